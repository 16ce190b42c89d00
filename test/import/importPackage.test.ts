import fs from 'node:fs'
import path from 'node:path'
import { describe, expect, it, vi } from 'vitest'
import { openStore, type FileInfo, type PackageIndex } from '../../lib/index.js'
import { gate } from '../helpers/gate.js'
import { expectWhole, packageEntries, storePackage, strayEntries } from '../helpers/importPkg.js'
import { listFiles, tempDir } from '../helpers/tmp.js'

interface Setup {
  dir: string, storeDir: string, nm: string, index: PackageIndex, entries: ReturnType<typeof packageEntries>
}

async function setup (count = 20): Promise<Setup> {
  const dir = tempDir()
  const storeDir = path.join(dir, 'store')
  const entries = packageEntries('p', count)
  const { index } = await storePackage(storeDir, entries)
  const nm = path.join(dir, 'node_modules')
  fs.mkdirSync(nm)
  return { dir, storeDir, nm, index, entries }
}

describe('importPackage', () => {
  it('imports a package whole, by each method, and keeps a complete target', async () => {
    const { storeDir, nm, index, entries } = await setup()
    const store = await openStore(storeDir)
    for (const method of ['auto', 'hardlink', 'copy', 'clone-or-copy'] as const) {
      const target = path.join(nm, method)
      expect(await store.importPackage(index, target, { method })).toEqual({
        method: method === 'auto' || method === 'hardlink' ? 'hardlink' : 'copy', imported: true,
      })
      expectWhole(target, entries)
      expect((await store.importPackage(index, target, { method })).imported).toBe(false)
    }
    expect(strayEntries(nm).sort()).toEqual(['auto', 'clone-or-copy', 'copy', 'hardlink'])
    await store.close()
  })

  // Test 4 of the issue: names come from tarballs and from index.db, which anyone with write access can edit.
  it.each([['../x'], ['/abs'], ['a/../../b'], ['a\0b'], ['a\\..\\b'], ['C:/x']])('refuses the hostile name %j before writing anything', async (bad) => {
    const { dir, storeDir, nm, index } = await setup()
    const files = new Map(index.files)
    files.set(bad, index.files.get('package.json')!)
    const before = listFiles(dir)
    const store = await openStore(storeDir)
    const target = path.join(nm, 'deep', 'pkg')
    await expect(store.importPackage({ ...index, files }, target))
      .rejects.toMatchObject({ code: 'ERR_CAS_UNSAFE_PATH', entry: bad })
    await store.close()
    expect(listFiles(dir)).toEqual(before)
    expect(strayEntries(nm)).toEqual([])
    expect(fs.existsSync(path.join(nm, 'deep', 'x'))).toBe(false)
  })

  it('refuses a name that is both a file and a folder, writing nothing', async () => {
    const { storeDir, nm, index } = await setup()
    const files = new Map(index.files)
    files.set('lib', index.files.get('package.json')!)
    const store = await openStore(storeDir)
    await expect(store.importPackage({ ...index, files }, path.join(nm, 'p')))
      .rejects.toMatchObject({ code: 'ERR_CAS_NAME_COLLISION' })
    await store.close()
    expect(strayEntries(nm)).toEqual([])
  })

  // Test 5 (a): content gone before the import.
  it('content missing before the import: ERR_CAS_MISSING_CONTENT naming it, no target, no temp folder', async () => {
    const { storeDir, nm, index } = await setup()
    const store = await openStore(storeDir)
    const info = index.files.get('lib/f0.js')!
    fs.unlinkSync(store.filePathFor(info.digest, info.mode))
    await expect(store.importPackage(index, path.join(nm, 'p')))
      .rejects.toMatchObject({ code: 'ERR_CAS_MISSING_CONTENT', files: ['lib/f0.js'] })
    await store.close()
    expect(strayEntries(nm)).toEqual([])
  })

  // Test 5 (b): another process's `cas verify --fix` removes content after our check passed, mid-import.
  it('content removed while the import runs: ERR_CAS_MISSING_CONTENT naming it, no target, no temp folder', async () => {
    const { storeDir, nm, index } = await setup()
    const staged = gate()
    const store = await openStore(storeDir, { _hooks: { 'import:staged': staged.wait } })
    const running = store.importPackage(index, path.join(nm, 'p'), { method: 'copy' })
    await staged.reached // verified, temp folder made, nothing materialized yet
    expect(strayEntries(nm)).toHaveLength(1)
    for (const name of ['bin/f2.js', 'dist/esm/f3.js']) {
      const info = index.files.get(name)!
      fs.unlinkSync(store.filePathFor(info.digest, info.mode))
    }
    staged.open()
    const err = await running.then(() => undefined, (e: unknown) => e) as { code: string, files: string[] }
    expect(err).toMatchObject({ code: 'ERR_CAS_MISSING_CONTENT' })
    expect(err.files.sort()).toEqual(['bin/f2.js', 'dist/esm/f3.js'])
    await store.close()
    expect(strayEntries(nm)).toEqual([])
  })

  it('corrupt content (same size, rewritten in place) is never linked: ERR_CAS_MISSING_CONTENT, no target', async () => {
    const { storeDir, nm, index } = await setup()
    const store = await openStore(storeDir)
    const info = index.files.get('lib/f0.js')!
    const file = store.filePathFor(info.digest, info.mode)
    fs.writeFileSync(file, Buffer.alloc(info.size, 'x'))
    const late = new Date(info.checkedAt! + 60_000)
    fs.utimesSync(file, late, late)
    await expect(store.importPackage(index, path.join(nm, 'p'), { method: 'hardlink' }))
      .rejects.toMatchObject({ code: 'ERR_CAS_MISSING_CONTENT', files: ['lib/f0.js'] })
    await store.close()
    expect(strayEntries(nm)).toEqual([])
  })

  // Test 6: a build writing through a hard link would change the store's content.
  it('a package that runs build scripts is never hard-linked with auto (nor with an explicit hardlink)', async () => {
    const { storeDir, nm, index, entries } = await setup()
    const store = await openStore(storeDir)
    const built: PackageIndex = { ...index, requiresBuild: true }
    for (const method of ['auto', 'hardlink'] as const) {
      const target = path.join(nm, method)
      expect(await store.importPackage(built, target, { method })).toEqual({ method: 'copy', imported: true })
      expectWhole(target, entries)
      const inodeOf = (i: FileInfo): number => fs.statSync(store.filePathFor(i.digest, i.mode)).ino
      const storeInodes = new Set([...index.files.values()].map(inodeOf))
      for (const name of index.files.keys()) {
        expect(storeInodes.has(fs.statSync(path.join(target, name)).ino)).toBe(false)
      }
    }
    // The same package without build scripts is hard-linked: the check above can see a link.
    const linked = path.join(nm, 'linked')
    expect(await store.importPackage(index, linked)).toEqual({ method: 'hardlink', imported: true })
    const info = index.files.get('package.json')!
    expect(fs.statSync(path.join(linked, 'package.json')).ino).toBe(fs.statSync(store.filePathFor(info.digest, info.mode)).ino)
    await store.close()
  })

  it('a copy gets the index\'s execute bit even when the store file lost it (a store restored without modes)', async () => {
    const { storeDir, nm, index, entries } = await setup()
    const store = await openStore(storeDir)
    const exec = [...index.files].filter(([, i]) => (i.mode & 0o111) !== 0)
    expect(exec.length).toBeGreaterThan(0)
    for (const [, info] of exec) fs.chmodSync(store.filePathFor(info.digest, info.mode), 0o644)
    const plain = [...index.files].find(([, i]) => (i.mode & 0o111) === 0)![1]
    fs.chmodSync(store.filePathFor(plain.digest, plain.mode), 0o755)
    await store.importPackage(index, path.join(nm, 'p'), { method: 'copy' })
    expectWhole(path.join(nm, 'p'), entries) // checks every execute bit against the tarball's
    await store.close()
  })

  it('keeps a complete target, replaces an incomplete one, and force replaces a complete one', async () => {
    const { storeDir, nm, index, entries } = await setup()
    const store = await openStore(storeDir)
    const target = path.join(nm, 'p')
    await store.importPackage(index, target, { method: 'copy' })
    fs.writeFileSync(path.join(target, 'lib', 'f0.js'), 'edited by hand')
    // (copies throughout: editing a hard-linked file would edit the store)
    const copy = { method: 'copy' } as const
    expect((await store.importPackage(index, target, copy)).imported).toBe(false)
    expect(fs.readFileSync(path.join(target, 'lib', 'f0.js'), 'utf8')).toBe('edited by hand')
    expect((await store.importPackage(index, target, { ...copy, force: true })).imported).toBe(true)
    expectWhole(target, entries)
    // Another version's folder (its package.json differs) or a half-filled one left by another tool is replaced.
    fs.writeFileSync(path.join(target, 'package.json'), JSON.stringify({ name: 'p', version: '0.9.0' }))
    fs.rmSync(path.join(target, 'lib'), { recursive: true })
    expect((await store.importPackage(index, target, copy)).imported).toBe(true)
    expectWhole(target, entries)
    fs.rmSync(target, { recursive: true })
    fs.writeFileSync(target, 'a file where the folder goes')
    expect((await store.importPackage(index, target, copy)).imported).toBe(true)
    expectWhole(target, entries)
    expect(strayEntries(nm)).toEqual(['p'])
    await store.close()
  })

  it('many tasks of one process import one target, some with force: all succeed, one whole target, no leftovers', async () => {
    const { storeDir, nm, index, entries } = await setup(200)
    const store = await openStore(storeDir)
    const target = path.join(nm, 'p')
    const results = await Promise.all(Array.from({ length: 12 }, async (_, i) =>
      await store.importPackage(index, target, { method: i % 2 === 0 ? 'copy' : 'hardlink', force: i % 3 === 0 })))
    expect(results.filter(r => r.imported).length).toBeGreaterThanOrEqual(1)
    expectWhole(target, entries)
    expect(strayEntries(nm)).toEqual(['p'])
    await store.close()
  })

  it('shares verifiedFiles with the install: a content path checked once is not checked again', async () => {
    const { storeDir, nm, index } = await setup()
    const store = await openStore(storeDir)
    const verifiedFiles = new Set<string>()
    await store.importPackage(index, path.join(nm, 'a'), { verifiedFiles })
    const paths = new Set([...index.files.values()].map((i: FileInfo) => store.filePathFor(i.digest, i.mode)))
    expect(verifiedFiles.size).toBe(paths.size)
    await store.close()
  })

  it('rejects a bad method or index with ERR_CAS_INVALID_ARGUMENT', async () => {
    const { storeDir, nm, index } = await setup()
    const store = await openStore(storeDir)
    await expect(store.importPackage(index, path.join(nm, 'p'), { method: 'symlink' as 'copy' }))
      .rejects.toMatchObject({ code: 'ERR_CAS_INVALID_ARGUMENT' })
    await expect(store.importPackage({ algo: 'sha512' } as unknown as PackageIndex, path.join(nm, 'p')))
      .rejects.toMatchObject({ code: 'ERR_CAS_INVALID_ARGUMENT' })
    const files = new Map(index.files)
    files.set('x.js', { digest: '../../etc/passwd', mode: 0o644, size: 1 })
    await expect(store.importPackage({ ...index, files }, path.join(nm, 'p')))
      .rejects.toMatchObject({ code: 'ERR_CAS_BAD_DIGEST' })
    expect(strayEntries(nm)).toEqual([])
    await store.close()
  })
})

describe('importPackage: arguments, the kept target, the temp folder', () => {
  // path.resolve('') is the working directory: an importer passing an unset variable must not have its project
  // folder moved aside and replaced by a package.
  it('refuses an empty or non-string targetDir with ERR_CAS_INVALID_ARGUMENT, never resolving it', async () => {
    const { dir, storeDir, index } = await setup()
    const cwd = path.join(dir, 'project')
    fs.mkdirSync(cwd)
    fs.writeFileSync(path.join(cwd, 'keep.txt'), 'the user\'s work')
    vi.spyOn(process, 'cwd').mockReturnValue(cwd)
    const store = await openStore(storeDir)
    try {
      for (const bad of ['', 42, undefined]) {
        await expect(store.importPackage(index, bad as string))
          .rejects.toMatchObject({ code: 'ERR_CAS_INVALID_ARGUMENT' })
      }
    } finally {
      vi.restoreAllMocks()
      await store.close()
    }
    expect(fs.readdirSync(dir).sort()).toEqual(['node_modules', 'project', 'store'])
    expect(fs.readdirSync(cwd)).toEqual(['keep.txt'])
  })

  it('accepts an index whose files are a plain object (a JSON index) and refuses null files', async () => {
    const { storeDir, nm, index, entries } = await setup()
    const store = await openStore(storeDir)
    const plain = { ...index, files: Object.fromEntries(index.files) } as unknown as PackageIndex
    expect(await store.importPackage(plain, path.join(nm, 'p'), { method: 'copy' }))
      .toEqual({ method: 'copy', imported: true })
    expectWhole(path.join(nm, 'p'), entries)
    await expect(store.importPackage({ ...index, files: null } as unknown as PackageIndex, path.join(nm, 'q')))
      .rejects.toMatchObject({ code: 'ERR_CAS_INVALID_ARGUMENT' })
    expect(strayEntries(nm)).toEqual(['p'])
    await store.close()
  })

  // An install whose packages are in place must not fail because the store lost content it no longer needs.
  it('keeps a complete target without looking at the store: content removed since does not fail the install', async () => {
    const { storeDir, nm, index } = await setup()
    const store = await openStore(storeDir)
    const target = path.join(nm, 'p')
    await store.importPackage(index, target, { method: 'copy' })
    const info = index.files.get('lib/f0.js')!
    fs.unlinkSync(store.filePathFor(info.digest, info.mode))
    expect(await store.importPackage(index, target, { method: 'copy' })).toEqual({ method: 'copy', imported: false })
    expect(strayEntries(nm)).toEqual(['p'])
    await store.close()
  })

  it('a target whose parent is a file fails with ERR_CAS_FILE_ACCESS and leaves nothing', async () => {
    const { storeDir, nm, index } = await setup()
    fs.writeFileSync(path.join(nm, 'scope'), 'a file where a folder should be')
    const store = await openStore(storeDir)
    await expect(store.importPackage(index, path.join(nm, 'scope', 'p')))
      .rejects.toMatchObject({ code: 'ERR_CAS_FILE_ACCESS' })
    expect(strayEntries(nm)).toEqual(['scope'])
    expect(fs.statSync(path.join(nm, 'scope')).isFile()).toBe(true)
    await store.close()
  })
})
