// Whether a target already holds the package is decided by its witness file's bytes (completeTarget.ts). Read
// with a bare readFileSync, a process out of descriptors (EMFILE, which an installer importing many packages at
// once meets) made a complete target look unreadable, so incomplete: the import built a new folder and placeDir
// swapped it in, moving aside and deleting the complete one under whatever ran from it. The read now goes through
// hashFile, which waits for a descriptor (graceful-fs). EMFILE is injected on the witness read only.
import fs from 'node:fs'
import path from 'node:path'
import { afterEach, expect, it, vi } from 'vitest'
import { openStore } from '../../lib/index.js'
import { expectWhole, packageEntries, storePackage, strayEntries } from '../helpers/importPkg.js'
import { tempDir } from '../helpers/tmp.js'

afterEach(() => { vi.restoreAllMocks() })

it('a complete target whose witness cannot be opened for lack of descriptors is kept, not replaced', async () => {
  const dir = tempDir()
  const storeDir = path.join(dir, 'store')
  const entries = packageEntries('p', 10)
  const { index } = await storePackage(storeDir, entries)
  const nm = path.join(dir, 'node_modules')
  const target = path.join(nm, 'p')
  const store = await openStore(storeDir)
  expect((await store.importPackage(index, target, { method: 'copy' })).imported).toBe(true)
  const witness = path.join(target, 'package.json')
  const before = fs.statSync(witness).ino

  const realRead = fs.readFileSync
  vi.spyOn(fs, 'readFileSync').mockImplementation(((file: fs.PathOrFileDescriptor, options?: unknown) => {
    if (file === witness) throw Object.assign(new Error(`EMFILE: too many open files, open '${witness}'`), { code: 'EMFILE' })
    return realRead(file, options as BufferEncoding)
  }) as typeof fs.readFileSync)

  const result = await store.importPackage(index, target, { method: 'copy' })
  vi.restoreAllMocks()
  await store.close()
  expect(result).toEqual({ method: 'copy', imported: false }) // kept: not imported again
  expect(fs.statSync(witness).ino).toBe(before)
  expectWhole(target, entries)
  expect(strayEntries(nm)).toEqual(['p'])
})
