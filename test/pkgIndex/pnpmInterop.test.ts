// Proof against the real thing: pnpm 12 (the native binary from the `pnpm` npm package, a dev dependency) makes
// stores that cas-store reads and verifies, and installs from a store that cas-store alone built.
import { execFileSync } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { openStore, packageIndexKey, type PackageIndex } from '../../lib/index.js'
import { encodePackageIndex } from '../../lib/pkgIndex/codec.js'
import { rawIndexDb } from '../helpers/sqlite.js'
import { FIXTURES, PNPM, packFixture, runPnpm, writeFileProject } from '../helpers/pnpm.js'
import { tempDir } from '../helpers/tmp.js'

async function collectIndexes (storeDir: string): Promise<Map<string, PackageIndex>> {
  const store = await openStore(storeDir)
  const found = new Map<string, PackageIndex>()
  for await (const { key, index, error } of store.listPackageIndexes()) {
    expect(error).toBeUndefined()
    found.set(key, index!)
  }
  await store.close()
  return found
}

describe('pnpm 12 interop', () => {
  it('runs the pnpm 12 binary the tests are written against', () => {
    expect(execFileSync(PNPM, ['--version'], { encoding: 'utf8' }).trim()).toMatch(/^12\./)
  })

  it('lists every package index of a store pnpm 12 made, and each one verifies', async () => {
    const dir = tempDir()
    const storeDir = path.join(dir, 'store')
    const project = writeFileProject(dir)
    await runPnpm(['install', '--offline', '--store-dir', storeDir], project, dir)

    const indexes = await collectIndexes(storeDir)
    const nameOf = (index: PackageIndex): string => (index.manifest as { name: string }).name
    const byName = new Map([...indexes].map(([key, index]) => [nameOf(index), { key, index }]))
    expect([...byName.keys()].sort()).toEqual(['pkg-a', 'pkg-b', 'pkg-c'])

    const store = await openStore(storeDir)
    for (const fixture of FIXTURES) {
      const { key, index } = byName.get(fixture.manifest.name)!
      // pnpm's key: the .tgz's integrity, a tab, the specifier the project used.
      expect(key).toBe(`${packFixture(fixture).integrity}\tfile:../tarballs/${fixture.manifest.name}-${fixture.manifest.version}.tgz`)
      expect([...index.files.keys()].sort()).toEqual(['package.json', ...Object.keys(fixture.files)].sort())
      // The same tarball added by cas-store gives the same digests, modes and sizes pnpm recorded.
      const ours = await store.addFilesFromTarball(packFixture(fixture).tgz)
      for (const [name, info] of ours.files) {
        expect(index.files.get(name)).toMatchObject({ digest: info.digest, mode: info.mode, size: info.size })
      }
      expect(ours.requiresBuild).toBe(index.requiresBuild)
      expect(ours.manifest).toMatchObject(index.manifest as Record<string, unknown>)
      const result = await store.checkPkgFilesIntegrity(index)
      expect(result).toEqual({ passed: true, missing: [], corrupt: [], removed: [] })
    }
    await store.close()
  })

  it('encodes a pnpm 12 row back to the very bytes pnpm wrote', async () => {
    const dir = tempDir()
    const storeDir = path.join(dir, 'store')
    await runPnpm(['install', '--offline', '--store-dir', storeDir], writeFileProject(dir), dir)
    const store = await openStore(storeDir)
    await store.close()
    const db = rawIndexDb(store.root, { readonly: true })
    const rows = db.all<{ key: string, data: Buffer }>('SELECT key, data FROM package_index')
    db.close()
    expect(rows).toHaveLength(3)
    const indexes = await collectIndexes(storeDir)
    for (const row of rows) expect(encodePackageIndex(indexes.get(row.key)!).equals(row.data)).toBe(true)
  })

  it('pnpm 12 installs offline from a store that only cas-store wrote (files and index row)', async () => {
    const dir = tempDir()
    const storeDir = path.join(dir, 'store')
    const fixture = FIXTURES[0]!
    const { tgz, integrity } = packFixture(fixture)
    const store = await openStore(storeDir)
    const index = await store.addFilesFromTarball(tgz)
    await store.writePackageIndex(packageIndexKey(integrity, 'pkg-a@1.0.0'), index)
    await store.close()

    const project = path.join(dir, 'project')
    fs.mkdirSync(project)
    fs.writeFileSync(path.join(project, 'package.json'), JSON.stringify({ name: 'p', version: '0.0.0', dependencies: { 'pkg-a': '1.0.0' } }))
    // A registry dependency pinned by integrity: pnpm can only get its files from the store (offline, and no
    // registry serves pkg-a), so a successful install proves it read cas-store's row and content files.
    fs.writeFileSync(path.join(project, 'pnpm-lock.yaml'), [
      "lockfileVersion: '9.0'", '', 'settings:', '  autoInstallPeers: true', '  excludeLinksFromLockfile: false', '',
      'importers:', '', '  .:', '    dependencies:', '      pkg-a:', '        specifier: 1.0.0', '        version: 1.0.0', '',
      'packages:', '', '  pkg-a@1.0.0:', `    resolution: {integrity: ${integrity}}`, '    hasBin: true', '',
      'snapshots:', '', '  pkg-a@1.0.0: {}', '',
    ].join('\n'))
    const install = ['install', '--frozen-lockfile', '--offline', '--trust-lockfile']

    // Control: the same install against an empty store fails, so the next success is the store's doing.
    await expect(runPnpm([...install, '--store-dir', path.join(dir, 'empty-store')], project, dir)).rejects.toThrow()
    fs.rmSync(path.join(project, 'node_modules'), { recursive: true, force: true })

    await runPnpm([...install, '--store-dir', storeDir], project, dir)
    const installed = path.join(project, 'node_modules', 'pkg-a')
    for (const [name, file] of Object.entries(fixture.files)) {
      expect(fs.readFileSync(path.join(installed, name), 'utf8')).toBe(file.body)
      // Hard-linked from the content file cas-store wrote.
      const info = index.files.get(name)!
      const stored = fs.statSync(path.join(store.root, 'files', info.digest.slice(0, 2), info.digest.slice(2) + (info.mode & 0o111 ? '-exec' : '')))
      expect(fs.statSync(path.join(installed, name)).ino).toBe(stored.ino)
    }
    expect(execFileSync(path.join(project, 'node_modules', '.bin', 'pkg-a'), { encoding: 'utf8' })).toBe('pkg-a cli\n')
  })

  it('reports exactly the two corrupted content files, in exactly the packages that use them', async () => {
    const dir = tempDir()
    const storeDir = path.join(dir, 'store')
    await runPnpm(['install', '--offline', '--store-dir', storeDir], writeFileProject(dir), dir)
    const indexes = await collectIndexes(storeDir)
    const store = await openStore(storeDir)
    const named = (pkg: string): PackageIndex =>
      [...indexes.values()].find(i => (i.manifest as { name: string }).name === pkg)!
    // One content file shared by pkg-a and pkg-b (their README), one used by pkg-c alone.
    const readme = named('pkg-a').files.get('README.md')!
    expect(named('pkg-b').files.get('README.md')!.digest).toBe(readme.digest)
    const deep = named('pkg-c').files.get('lib/deep/deep.js')!
    for (const info of [readme, deep]) {
      const file = store.filePathFor(info.digest, info.mode)
      fs.writeFileSync(file, Buffer.alloc(info.size, 'x')) // same size: only the hash can tell
      const late = new Date(info.checkedAt! + 60_000)
      fs.utimesSync(file, late, late)
    }

    const report: Record<string, { missing: string[], corrupt: string[] }> = {}
    for (const [key, index] of indexes) {
      const { missing, corrupt } = await store.checkPkgFilesIntegrity(index)
      report[(index.manifest as { name: string }).name] = { missing, corrupt }
      expect(key).toContain('\t')
    }
    await store.close()
    const bad = Object.fromEntries(Object.entries(report).map(([pkg, r]) => [pkg, [...r.missing, ...r.corrupt].sort()]))
    expect(bad).toEqual({ 'pkg-a': ['README.md'], 'pkg-b': ['README.md'], 'pkg-c': ['lib/deep/deep.js'] })
    // The shared file is proven corrupt (and removed) once, by whichever package is checked first; the other
    // package then finds it missing, which is the same fact.
    expect(Object.values(report).flatMap(r => r.corrupt).sort()).toEqual(['README.md', 'lib/deep/deep.js'])
  })
})
