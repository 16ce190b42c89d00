// Every file-system failure of an import is a coded error naming the path (README: match on `code`), including
// the folders it makes: the package's own folders (a folder name over NAME_MAX, a case-insensitive file system
// folding two folder names into one) and the target's parent (a dangling link, a parent removed meanwhile).
import fs from 'node:fs'
import path from 'node:path'
import { expect, it, vi } from 'vitest'
import { openStore } from '../../lib/index.js'
import { packageEntries, storePackage, strayEntries } from '../helpers/importPkg.js'
import { tempDir } from '../helpers/tmp.js'

async function setup (): Promise<{ dir: string, storeDir: string, nm: string, index: Awaited<ReturnType<typeof storePackage>>['index'] }> {
  const dir = tempDir()
  const storeDir = path.join(dir, 'store')
  const { index } = await storePackage(storeDir, packageEntries('p', 10))
  const nm = path.join(dir, 'node_modules')
  fs.mkdirSync(nm)
  return { dir, storeDir, nm, index }
}

it('a folder segment over NAME_MAX: ERR_CAS_FILE_ACCESS like a file name over NAME_MAX, not a bare ENAMETOOLONG', async () => {
  const { storeDir, nm, index } = await setup()
  const store = await openStore(storeDir)
  const info = index.files.get('package.json')!
  const asFile = new Map(index.files).set('y'.repeat(300), info)
  await expect(store.importPackage({ ...index, files: asFile }, path.join(nm, 'a')))
    .rejects.toMatchObject({ code: 'ERR_CAS_FILE_ACCESS' })
  const asFolder = new Map(index.files).set('x'.repeat(300) + '/f.js', info)
  await expect(store.importPackage({ ...index, files: asFolder }, path.join(nm, 'b')))
    .rejects.toMatchObject({ code: 'ERR_CAS_FILE_ACCESS' }) // not a bare ENAMETOOLONG
  await store.close()
  expect(strayEntries(nm)).toEqual([])
})

it('a target whose parent is a dangling symlink: ERR_CAS_FILE_ACCESS, not a bare ENOENT', async () => {
  const { dir, storeDir, nm, index } = await setup()
  fs.symlinkSync(path.join(dir, 'removed-workspace'), path.join(nm, 'scope'))
  const store = await openStore(storeDir)
  await expect(store.importPackage(index, path.join(nm, 'scope', 'p')))
    .rejects.toMatchObject({ code: 'ERR_CAS_FILE_ACCESS' }) // not a bare ENOENT from mkdirSync(recursive)
  await store.close()
})

it('two folder names a case-insensitive file system folds into one: ERR_CAS_NAME_COLLISION, not a bare EEXIST', async () => {
  const { storeDir, nm, index } = await setup()
  const store = await openStore(storeDir)
  // Linux file systems keep case, so the fold is played by mkdir: the second folder "already exists".
  const realMkdir = fs.mkdirSync
  vi.spyOn(fs, 'mkdirSync').mockImplementation(((dir: fs.PathLike, options?: fs.MakeDirectoryOptions) => {
    if (String(dir).endsWith('/lib/deep')) throw Object.assign(new Error(`EEXIST: file already exists, mkdir '${String(dir)}'`), { code: 'EEXIST' })
    return realMkdir(dir, options)
  }) as typeof fs.mkdirSync)
  try {
    await expect(store.importPackage(index, path.join(nm, 'p'))).rejects.toMatchObject({ code: 'ERR_CAS_NAME_COLLISION', names: ['lib/deep'] })
  } finally {
    vi.restoreAllMocks()
  }
  await store.close()
  expect(strayEntries(nm)).toEqual([])
})
