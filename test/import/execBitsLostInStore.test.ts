// A store restored from a cache that kept no permissions (or copied with the wrong umask) holds its -exec content
// without execute bits. Clones and copies are given the file's mode; a hard link shares the store file's inode, so
// it cannot be: such an executable is copied instead, and every other file is still linked. The store file itself
// is left as it is.
import fs from 'node:fs'
import path from 'node:path'
import { expect, it } from 'vitest'
import { openStore } from '../../lib/index.js'
import { packageEntries, storePackage } from '../helpers/importPkg.js'
import { tempDir } from '../helpers/tmp.js'

it.each([
  ['auto, checked by this import', 'auto', false, 200],
  ['hardlink, checked by this import', 'hardlink', false, 200],
  ['hardlink, checked by an earlier import (shared verifiedFiles: no stat in the check)', 'hardlink', true, 200],
  ['hardlink, large files (copied off the event loop)', 'hardlink', false, 1_100_000],
] as const)('%s: -exec content without its execute bits still yields executable files', async (_what, method, shared, size) => {
  const dir = tempDir()
  const storeDir = path.join(dir, 'store')
  const { index } = await storePackage(storeDir, packageEntries('p', 10, size))
  const store = await openStore(storeDir)
  const exec = [...index.files].filter(([, info]) => (info.mode & 0o111) !== 0)
  const plain = [...index.files].filter(([, info]) => (info.mode & 0o111) === 0)
  expect(exec.length).toBeGreaterThan(0)
  const verifiedFiles = new Set<string>()
  if (shared) await store.importPackage(index, path.join(dir, 'node_modules', 'first'), { method, verifiedFiles })
  for (const [, info] of exec) fs.chmodSync(store.filePathFor(info.digest, info.mode), 0o644)
  const target = path.join(dir, 'node_modules', 'p')
  const result = await store.importPackage(index, target, { method, verifiedFiles })
  expect(result.method).toBe('hardlink') // ext4/tmpfs have no reflinks: auto links too
  for (const [name, info] of exec) {
    const installed = fs.statSync(path.join(target, name))
    const stored = fs.statSync(store.filePathFor(info.digest, info.mode))
    expect({ name, mode: (installed.mode & 0o777).toString(8), copied: installed.ino !== stored.ino })
      .toEqual({ name, mode: '755', copied: true })
    expect((stored.mode & 0o777).toString(8)).toBe('644') // the store file is left alone
  }
  for (const [name, info] of plain) {
    expect(fs.statSync(path.join(target, name)).ino).toBe(fs.statSync(store.filePathFor(info.digest, info.mode)).ino)
  }
  await store.close()
})

it('with its execute bits in place, an executable is hard-linked like every other file', async () => {
  const dir = tempDir()
  const storeDir = path.join(dir, 'store')
  const { index } = await storePackage(storeDir, packageEntries('p', 10))
  const store = await openStore(storeDir)
  const target = path.join(dir, 'node_modules', 'p')
  await store.importPackage(index, target, { method: 'hardlink' })
  for (const [name, info] of index.files) {
    const stored = fs.statSync(store.filePathFor(info.digest, info.mode))
    expect({ name, linked: fs.statSync(path.join(target, name)).ino === stored.ino }).toEqual({ name, linked: true })
  }
  await store.close()
})
