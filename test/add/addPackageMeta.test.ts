// The manifest an add puts in the index is read back from the store: up to 1 MiB of package.json (a larger one is
// no manifest anyone wrote by hand, and is left out rather than loaded), and a read that fails is the store's
// ERR_CAS_FILE_ACCESS, not a bare fs error.
import crypto from 'node:crypto'
import fs from 'node:fs'
import path from 'node:path'
import { expect, it } from 'vitest'
import { addPackageMeta } from '../../lib/add/addPackageMeta.js'
import type { StoreContext } from '../../lib/context.js'
import { contentPathFor } from '../../lib/layout/contentPath.js'
import type { PackageIndex } from '../../lib/types.js'
import { SYNC_IO_LIMIT } from '../../lib/util/hash.js'
import { tempDir } from '../helpers/tmp.js'

/** A package.json of exactly `size` bytes, stored under `root` as an add would have put it. */
function storedPackageJson (root: string, size: number): PackageIndex {
  const head = '{"name":"padded","pad":"'
  const bytes = Buffer.from(head + 'a'.repeat(size - head.length - 2) + '"}')
  expect(bytes.length).toBe(size)
  const digest = crypto.createHash('sha512').update(bytes).digest('hex')
  const file = contentPathFor(root, digest, 0o644)
  fs.mkdirSync(path.dirname(file), { recursive: true })
  fs.writeFileSync(file, bytes)
  return { algo: 'sha512', files: new Map([['package.json', { digest, mode: 0o644, size, checkedAt: Date.now() }]]) }
}

it('a package.json of exactly 1 MiB is read as the manifest; one byte more is left out', async () => {
  const root = tempDir()
  const ctx = { root } as StoreContext
  const atLimit = await addPackageMeta(ctx, storedPackageJson(root, SYNC_IO_LIMIT))
  expect(atLimit.manifest?.name).toBe('padded')
  const over = await addPackageMeta(ctx, storedPackageJson(root, SYNC_IO_LIMIT + 1))
  expect(over.manifest).toBeUndefined()
  expect(over.requiresBuild).toBe(false)
})

it('a package.json whose content is not in the store fails with ERR_CAS_FILE_ACCESS naming the file', async () => {
  const root = tempDir()
  const index = storedPackageJson(root, 100)
  const file = contentPathFor(root, index.files.get('package.json')!.digest, 0o644)
  fs.rmSync(file)
  await expect(addPackageMeta({ root } as StoreContext, index)).rejects.toMatchObject({
    code: 'ERR_CAS_FILE_ACCESS',
    message: expect.stringContaining(file),
  })
})
