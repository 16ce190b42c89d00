// Issue 12, test 5: a store filled only by ensurePackage (tarballs from a local HTTP server) is one pnpm 12 installs
// from, offline, with a frozen lockfile: the index rows (key, manifest, files) are what pnpm looks for.
import { execFileSync } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import { afterEach, expect, it } from 'vitest'
import { openStore } from '../../lib/index.js'
import { startPackageServer, type PackageServer } from '../helpers/packageServer.js'
import { FIXTURES, packFixture, runPnpm } from '../helpers/pnpm.js'
import { tempDir } from '../helpers/tmp.js'

const servers: PackageServer[] = []
afterEach(async () => { for (const s of servers.splice(0)) await s.close() })

it('pnpm 12 installs offline (frozen lockfile) from a store filled only by ensurePackage', async () => {
  const fixtures = [FIXTURES[0]!, FIXTURES[2]!] // pkg-a (a bin, an executable file) and pkg-c (nested folders)
  const packed = fixtures.map(f => ({ fixture: f, ...packFixture(f), file: `${f.manifest.name}-${f.manifest.version}.tgz` }))
  const server = await startPackageServer(new Map(packed.map(p => [p.file, p.tgz])))
  servers.push(server)
  const dir = tempDir()
  const storeDir = path.join(dir, 'store')
  const store = await openStore(storeDir)
  for (const p of packed) {
    const pkgId = `${p.fixture.manifest.name}@${p.fixture.manifest.version}`
    const result = await store.ensurePackage({ integrity: p.integrity, pkgId, tarball: server.url(p.file) })
    expect(result.fetched).toBe(true)
  }
  await store.close()

  const project = path.join(dir, 'project')
  fs.mkdirSync(project)
  const deps = Object.fromEntries(fixtures.map(f => [f.manifest.name, f.manifest.version]))
  fs.writeFileSync(path.join(project, 'package.json'), JSON.stringify({ name: 'p', version: '0.0.0', dependencies: deps }))
  const lock = ["lockfileVersion: '9.0'", '', 'settings:', '  autoInstallPeers: true', '  excludeLinksFromLockfile: false', '',
    'importers:', '', '  .:', '    dependencies:']
  for (const f of fixtures) lock.push(`      ${f.manifest.name}:`, `        specifier: ${f.manifest.version}`, `        version: ${f.manifest.version}`)
  lock.push('', 'packages:', '')
  for (const p of packed) {
    lock.push(`  ${p.fixture.manifest.name}@${p.fixture.manifest.version}:`, `    resolution: {integrity: ${p.integrity}}`)
    if (p.fixture.manifest.bin !== undefined) lock.push('    hasBin: true')
    lock.push('')
  }
  lock.push('snapshots:', '')
  for (const f of fixtures) lock.push(`  ${f.manifest.name}@${f.manifest.version}: {}`, '')
  fs.writeFileSync(path.join(project, 'pnpm-lock.yaml'), lock.join('\n'))
  // No registry serves these names and pnpm runs offline: the store is the only place the files can come from.
  await runPnpm(['install', '--frozen-lockfile', '--offline', '--trust-lockfile', '--store-dir', storeDir], project, dir)

  for (const f of fixtures) {
    for (const [name, file] of Object.entries(f.files)) {
      expect(fs.readFileSync(path.join(project, 'node_modules', f.manifest.name, name), 'utf8')).toBe(file.body)
    }
  }
  expect(execFileSync(path.join(project, 'node_modules', '.bin', 'pkg-a'), { encoding: 'utf8' })).toBe('pkg-a cli\n')
  expect(server.requests).toHaveLength(2) // pnpm itself fetched nothing
})
