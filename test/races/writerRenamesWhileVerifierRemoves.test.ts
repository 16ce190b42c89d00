// The mirror image of the stale decision: the verifier has proven a file wrong under the lock and is about to
// remove it. A writer that renamed good content into place right then, without the lock, would see its file
// deleted right after being told it is stored. The writer's rename must wait for the verifier's lock.
import fs from 'node:fs'
import path from 'node:path'
import { expect, it } from 'vitest'
import { openStore } from '../../lib/index.js'
import { contentOf, sha512Hex } from '../helpers/content.js'
import { gate, signal } from '../helpers/gate.js'
import { tempDir } from '../helpers/tmp.js'

it('a writer cannot rename into place between the verifier proving a file wrong and removing it', async () => {
  const verifierParked = gate()
  const writerQueued = signal()
  const store = await openStore(tempDir(), {
    _hooks: { 'verifier:provenWrong': verifierParked.wait, 'lock:queued': writerQueued.signal },
  })
  const data = contentOf('rename', 1, 3000)
  const digest = sha512Hex(data)
  const target = store.filePathFor(digest, 0o644)
  fs.mkdirSync(path.dirname(target), { recursive: true })
  fs.writeFileSync(target, Buffer.alloc(data.length, 7))

  const verifying = store.checkPkgFilesIntegrity({ algo: 'sha512', files: { 'a.js': { digest, mode: 0o644, size: data.length, checkedAt: 0 } } })
  await verifierParked.reached

  const writing = store.ensureFile(data, { mode: 0o644 })
  // Either the writer queues behind the verifier's lock (correct), or it finishes without waiting (the bug).
  const first = await Promise.race([writerQueued.signalled.then(() => 'queued'), writing.then(() => 'finished')])
  expect(first).toBe('queued')

  verifierParked.open()
  expect(await verifying).toMatchObject({ corrupt: ['a.js'], removed: ['a.js'] })
  const written = await writing
  expect(fs.readFileSync(written.filePath).equals(data)).toBe(true)
  await store.close()
})

it('the same across processes\' view of the lock: a writer on its synchronous quick path waits for the OS lock', async () => {
  // Two Store instances on one directory share no in-process mutex, exactly like two processes: only the OS
  // lock stands between the writer's uncontended quick path and the verifier's removal.
  const dir = tempDir()
  const verifierParked = gate()
  const writerContended = signal()
  const verifierStore = await openStore(dir, { _hooks: { 'verifier:provenWrong': verifierParked.wait } })
  const writerStore = await openStore(dir, { _hooks: { 'lock:contended': writerContended.signal } })
  const data = contentOf('rename', 2, 3000)
  const digest = sha512Hex(data)
  const target = verifierStore.filePathFor(digest, 0o644)
  fs.mkdirSync(path.dirname(target), { recursive: true })
  fs.writeFileSync(target, Buffer.alloc(data.length, 7))

  const verifying = verifierStore.checkPkgFilesIntegrity({ algo: 'sha512', files: { 'a.js': { digest, mode: 0o644, size: data.length, checkedAt: 0 } } })
  await verifierParked.reached
  const writing = writerStore.ensureFile(data, { mode: 0o644 })
  const first = await Promise.race([writerContended.signalled.then(() => 'waiting'), writing.then(() => 'finished')])
  expect(first).toBe('waiting')

  verifierParked.open()
  expect(await verifying).toMatchObject({ corrupt: ['a.js'], removed: ['a.js'] })
  expect(fs.readFileSync((await writing).filePath).equals(data)).toBe(true)
  await verifierStore.close()
  await writerStore.close()
})

// Closing a store whose verifier is inside its critical section: close() waits for the verifier, and the OS lock is
// not let go under it meanwhile (a writer of the same path keeps waiting). The lock's own guard for a close that
// does reach a held stripe (StripeLocks.close keeps a held descriptor) is tested in test/lock/stripeLocks.test.ts.
it('closing the verifier\'s store mid-critical-section waits for it, and its OS lock holds until it is done', async () => {
  const dir = tempDir()
  const verifierParked = gate()
  const writerContended = signal()
  const verifierStore = await openStore(dir, { _hooks: { 'verifier:provenWrong': verifierParked.wait } })
  const writerStore = await openStore(dir, { _hooks: { 'lock:contended': writerContended.signal } })
  const data = contentOf('rename', 3, 3000)
  const digest = sha512Hex(data)
  const target = verifierStore.filePathFor(digest, 0o644)
  fs.mkdirSync(path.dirname(target), { recursive: true })
  fs.writeFileSync(target, Buffer.alloc(data.length, 7))

  const verifying = verifierStore.checkPkgFilesIntegrity({ algo: 'sha512', files: { 'a.js': { digest, mode: 0o644, size: data.length, checkedAt: 0 } } })
  await verifierParked.reached
  // An installer shutting down while a verification is in flight (closeMidOperation.test.ts).
  const closing = verifierStore.close()
  const writing = writerStore.ensureFile(data, { mode: 0o644 })
  const first = await Promise.race([writerContended.signalled.then(() => 'waiting'), writing.then(() => 'finished')])
  expect(first).toBe('waiting')
  verifierParked.open()
  await verifying
  await closing
  expect(fs.readFileSync((await writing).filePath).equals(data)).toBe(true)
  await writerStore.close()
})
