// The stale-decision race: the verifier reads old, corrupt bytes; before it acts, a writer replaces them with good
// bytes. A verifier that acts on what it read deletes the good file, and the install that was just told "the file
// is in the store" hits ENOENT. The verifier must decide again, under the lock, from a fresh read.
import fs from 'node:fs'
import path from 'node:path'
import { expect, it } from 'vitest'
import { openStore } from '../../lib/index.js'
import { contentOf, sha512Hex } from '../helpers/content.js'
import { gate } from '../helpers/gate.js'
import { tempDir } from '../helpers/tmp.js'

it('a verifier that read corrupt bytes does not delete the good file a writer put there meanwhile', async () => {
  const verifierParked = gate()
  const store = await openStore(tempDir(), { _hooks: { 'verifier:suspect': verifierParked.wait } })
  const data = contentOf('stale', 1, 5000)
  const digest = sha512Hex(data)
  const target = store.filePathFor(digest, 0o644)
  fs.mkdirSync(path.dirname(target), { recursive: true })
  const corrupt = Buffer.from(data)
  corrupt[100] = corrupt[100]! ^ 0xff
  fs.writeFileSync(target, corrupt)

  const verifying = store.checkPkgFilesIntegrity({ algo: 'sha512', files: { 'a.js': { digest, mode: 0o644, size: data.length, checkedAt: 0 } } })
  await verifierParked.reached // it has read the corrupt bytes and judged the file suspect

  const written = await store.ensureFile(data, { mode: 0o644 })
  expect(written.filePath).toBe(target)
  expect(fs.readFileSync(target).equals(data)).toBe(true)

  verifierParked.open()
  expect(await verifying).toEqual({ passed: true, missing: [], corrupt: [], removed: [] })
  expect(fs.readFileSync(target).equals(data)).toBe(true)
  await store.close()
})
