// The pacquet race across processes: the in-process mutex cannot see a writer in another process, so the OS lock
// must. Another process holds the path lock mid-finalize; our verifier, suspecting the file, must wait for that
// process and keep what it finishes.
import fs from 'node:fs'
import path from 'node:path'
import { expect, it } from 'vitest'
import { openStore } from '../../lib/index.js'
import { runFixture } from '../helpers/child.js'
import { sha512Hex } from '../helpers/content.js'
import { signal } from '../helpers/gate.js'
import { tempDir } from '../helpers/tmp.js'

it('a verifier waits for another process holding the path lock and keeps the file it finishes', async () => {
  const dir = tempDir()
  const text = 'written by the other process\n'.repeat(50)
  const contended = signal()
  const store = await openStore(dir, { _hooks: { 'lock:contended': contended.signal } })
  const digest = sha512Hex(text)
  const target = store.filePathFor(digest, 0o644)

  const writer = runFixture('holdWriterLock.ts', [dir, text])
  await writer.line(l => l === 'LOCKED')
  fs.mkdirSync(path.dirname(target), { recursive: true })
  fs.writeFileSync(target, text.slice(0, 100)) // half-written, as a non-atomic writer would leave it

  const verifying = store.checkPkgFilesIntegrity({ algo: 'sha512', files: { 'a.txt': { digest, mode: 0o644, size: text.length, checkedAt: 0 } } })
  const first = await Promise.race([contended.signalled.then(() => 'waiting'), verifying.then(() => 'finished')])
  expect(first).toBe('waiting')

  writer.send('go')
  await writer.line(l => l.startsWith('DONE'))
  expect(await verifying).toEqual({ passed: true, missing: [], corrupt: [], removed: [] })
  expect(fs.readFileSync(target, 'utf8')).toBe(text)
  await store.close()
})
