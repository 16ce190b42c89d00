// The pacquet race: a verifier finds a file mid-write (partial content at the path) and deletes it, although the
// writer is about to finish it. Here the writer holds the path lock; the verifier's suspicion must send it to wait
// for that lock, and its re-check after the wait must see the finished file and keep it.
import fs from 'node:fs'
import path from 'node:path'
import { expect, it } from 'vitest'
import { openStore } from '../../lib/index.js'
import { contentOf, sha512Hex } from '../helpers/content.js'
import { gate, signal } from '../helpers/gate.js'
import { tempDir } from '../helpers/tmp.js'

it('verifier slow path waits for a writer holding the lock and keeps the finished file', async () => {
  const writerParked = gate()
  const verifierSuspects = signal()
  const verifierQueued = signal()
  const store = await openStore(tempDir(), {
    _hooks: {
      'writer:locked': writerParked.wait,
      'verifier:suspect': verifierSuspects.signal,
      'lock:queued': verifierQueued.signal,
    },
  })
  const data = contentOf('pacquet', 1, 200_000)
  const digest = sha512Hex(data)
  const target = store.filePathFor(digest, 0o644)

  const writing = store.ensureFile(data, { mode: 0o644 })
  await writerParked.reached
  // The state a non-atomic writer leaves while it is mid-write: half the bytes at the final path.
  fs.mkdirSync(path.dirname(target), { recursive: true })
  fs.writeFileSync(target, data.subarray(0, data.length / 2))

  const verifying = store.checkPkgFilesIntegrity({ algo: 'sha512', files: { 'big.js': { digest, mode: 0o644, size: data.length, checkedAt: 0 } } })
  await verifierSuspects.signalled
  await verifierQueued.signalled // the verifier now waits for the writer's lock
  writerParked.open()

  expect(await verifying).toEqual({ passed: true, missing: [], corrupt: [], removed: [] })
  await writing
  expect(fs.readFileSync(target).equals(data)).toBe(true)
  await store.close()
})
