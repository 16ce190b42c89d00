// A folder added on the store's threads meets a verifier that has proven a stale copy of one of its files wrong
// and is about to remove it, under the path lock. A thread that renamed into place by itself (threads take no
// OS lock) would put the good file there just before the verifier removes it, and the add would return an index
// naming a file that is gone. The thread's rename is handed to the calling thread, which waits for the lock.
import fs from 'node:fs'
import path from 'node:path'
import { expect, it } from 'vitest'
import { openStore } from '../../lib/index.js'
import { contentOf, sha512Hex } from '../helpers/content.js'
import { gate, signal } from '../helpers/gate.js'
import { tempDir } from '../helpers/tmp.js'

it('a threaded add cannot rename into place between the verifier proving a file wrong and removing it', async () => {
  const src = tempDir()
  for (let i = 0; i < 100; i++) fs.writeFileSync(path.join(src, `f${i}.js`), contentOf('thr-race', i, 1500))
  const data = contentOf('thr-race', 42, 1500)
  const digest = sha512Hex(data)

  const verifierParked = gate()
  const adderQueued = signal()
  const store = await openStore(tempDir(), {
    threads: 2,
    _hooks: { 'verifier:provenWrong': verifierParked.wait, 'lock:queued': adderQueued.signal },
  })
  const target = store.filePathFor(digest, 0o644)
  fs.mkdirSync(path.dirname(target), { recursive: true })
  fs.writeFileSync(target, Buffer.alloc(data.length, 7)) // a stale, wrong copy

  const verifying = store.checkPkgFilesIntegrity({ algo: 'sha512', files: { 'f42.js': { digest, mode: 0o644, size: data.length, checkedAt: 0 } } })
  await verifierParked.reached

  const adding = store.addFilesFromDir(src)
  // Either the add queues behind the verifier's lock for f42 (correct), or it finishes without waiting (the bug).
  const first = await Promise.race([adderQueued.signalled.then(() => 'queued'), adding.then(() => 'finished')])
  expect(first).toBe('queued')

  verifierParked.open()
  expect(await verifying).toMatchObject({ corrupt: ['f42.js'], removed: ['f42.js'] })
  const index = await adding
  expect(index.files.get('f42.js')?.digest).toBe(digest)
  expect(fs.readFileSync(target).equals(data)).toBe(true)
  await store.close()
}, 60_000)
