import fs from 'node:fs'
import { expect, it } from 'vitest'
import { openStore } from '../../lib/index.js'
import { FIXTURES, packFixture } from '../helpers/pnpm.js'
import { tempDir } from '../helpers/tmp.js'

// The public types take any Uint8Array (so they need no @types/node); the code must then take one too.
it('ensureFile and addFilesFromTarball take a plain Uint8Array, not only a Buffer', async () => {
  const store = await openStore(tempDir())
  const whole = new Uint8Array([0, 104, 105, 0])
  const view = whole.subarray(1, 3) // "hi", at an offset into a larger buffer
  const added = await store.ensureFile(view, { mode: 0o644 })
  expect(fs.readFileSync(added.filePath, 'utf8')).toBe('hi')
  const { tgz } = packFixture(FIXTURES[0]!)
  const index = await store.addFilesFromTarball(new Uint8Array(tgz))
  expect([...index.files.keys()]).toEqual(expect.arrayContaining(Object.keys(FIXTURES[0]!.files)))
  await store.close()
})
