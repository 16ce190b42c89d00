// Issue 15, tests 1-3: two CI machines (real child processes, one store each) sharing packages through nginx.
// Machine A installs from the registry and uploads behind itself; machine B, with the registry gone, installs
// from nginx alone; a wrong blob, a dead server or a server answering 500 never fails an install.
import { execFileSync } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { openStore, packageIndexKey, type PackageIndex } from '../../lib/index.js'
import { remoteFilePath } from '../../lib/remote/layout.js'
import { runFixture } from '../helpers/child.js'
import { contentOf, sha512Hex } from '../helpers/content.js'
import { serverObjects, startNginx, type Nginx } from '../helpers/nginx.js'
import { makePackages, servePackages, writePackageList, type TestPackage } from '../helpers/packages.js'
import type { PackageServer } from '../helpers/packageServer.js'
import { FIXTURES, packFixture, runPnpm } from '../helpers/pnpm.js'
import { listFiles, tempDir } from '../helpers/tmp.js'

const stops: Array<() => Promise<void>> = []
afterEach(async () => { for (const stop of stops.splice(0)) await stop() })
async function nginx (options?: Parameters<typeof startNginx>[0]): Promise<Nginx> {
  const server = await startNginx(options)
  stops.push(server.stop)
  return server
}
async function registry (packages: TestPackage[]): Promise<PackageServer> {
  const server = await servePackages(packages)
  stops.push(server.close)
  return server
}

interface MachineRun {
  results: Map<string, string>
  remoteErrors: string[]
  stats: { requests: { GET: number, HEAD: number, PUT: number }, bytesDownloaded: number }
}

/** Runs one machine to the end: ensurePackage every listed package, close the store (uploads drained). */
async function machine (storeDir: string, remote: string, list: string, upload = true): Promise<MachineRun> {
  const child = runFixture('remoteMachine.ts', [storeDir, remote, list, '4', String(upload)])
  const done = await child.line(l => l.startsWith('DONE '))
  await child.exited
  const results = new Map<string, string>()
  for (const line of child.lines) {
    const [kind, pkgId, ...rest] = line.split(' ')
    if (kind === 'RESULT' || kind === 'ERROR') results.set(pkgId!, `${kind} ${rest.join(' ')}`)
  }
  return { results, remoteErrors: child.lines.filter(l => l.startsWith('REMOTE_ERROR ')), stats: JSON.parse(done.slice(5)) }
}

/** The pnpm fixtures with a bin and nested folders, as registry packages. */
function pnpmPackages (): Array<TestPackage & { fixture: typeof FIXTURES[number] }> {
  return [FIXTURES[0]!, FIXTURES[2]!].map(fixture => {
    const { tgz, integrity } = packFixture(fixture)
    const { name, version } = fixture.manifest
    return { fixture, tgz, integrity, pkgId: `${name}@${version}`, file: `${name}-${version}.tgz` }
  })
}

async function indexesOf (storeDir: string): Promise<Map<string, PackageIndex>> {
  const store = await openStore(storeDir)
  const out = new Map<string, PackageIndex>()
  for await (const { key, index } of store.listPackageIndexes()) out.set(key, index!)
  await store.close()
  return out
}

const withoutCheckedAt = (index: PackageIndex): unknown =>
  ({ ...index, files: [...index.files].map(([name, { digest, mode, size }]) => [name, digest, mode, size]).sort() })

describe('two machines sharing a remote cache', () => {
  it('1. B gets every package from nginx alone (registry stopped), byte-identical, and pnpm 12 installs offline from it', async () => {
    const server = await nginx()
    const forPnpm = pnpmPackages()
    const packages: TestPackage[] = [...makePackages(16, 'shared', 30_000), ...forPnpm]
    const reg = await registry(packages)
    const dir = tempDir()
    const list = writePackageList(dir, reg, packages)
    const a = path.join(dir, 'machine-a')

    const runA = await machine(a, server.url, list)
    expect([...runA.results.values()]).toEqual(Array(packages.length).fill('RESULT true'))
    expect(runA.remoteErrors).toEqual([])
    expect(reg.requests).toHaveLength(packages.length)
    // A's close() waited for its uploads: every package's index is on the server.
    expect(serverObjects(server.dataDir).filter(o => o.startsWith('index/'))).toHaveLength(packages.length)

    await reg.close() // the registry is gone: B can only use the remote
    const b = path.join(dir, 'machine-b')
    const beforeB = server.requests().length
    const runB = await machine(b, server.url, list)
    expect([...runB.results.values()]).toEqual(Array(packages.length).fill('RESULT true'))
    expect(runB.remoteErrors).toEqual([])
    expect(reg.requests).toHaveLength(packages.length) // none from B
    const bRequests = server.requests().slice(beforeB)
    // Only GETs (no PUT: nothing came from a tarball); 206 where B already held some of a pack's files (the
    // shared README).
    expect(bRequests.every(r => r.method === 'GET' && (r.status === 200 || r.status === 206))).toBe(true)
    expect(runB.stats.requests).toEqual({ GET: bRequests.length, HEAD: 0, PUT: 0 })

    // Byte-identical: the same content files (bytes and modes) and the same indexes.
    const aFiles = listFiles(path.join(a, 'v11', 'files'))
    expect(listFiles(path.join(b, 'v11', 'files'))).toEqual(aFiles)
    for (const rel of aFiles) {
      const [fa, fb] = [path.join(a, 'v11', 'files', rel), path.join(b, 'v11', 'files', rel)]
      expect(fs.readFileSync(fb).equals(fs.readFileSync(fa)), rel).toBe(true)
      expect(fs.statSync(fb).mode).toBe(fs.statSync(fa).mode)
    }
    const [ia, ib] = [await indexesOf(a), await indexesOf(b)]
    expect([...ib.keys()].sort()).toEqual([...ia.keys()].sort())
    for (const [key, index] of ib) expect(withoutCheckedAt(index)).toEqual(withoutCheckedAt(ia.get(key)!))

    // pnpm 12, offline, frozen lockfile, from B's store only.
    const project = path.join(dir, 'project')
    fs.mkdirSync(project)
    const deps = Object.fromEntries(forPnpm.map(p => [p.fixture.manifest.name, p.fixture.manifest.version]))
    fs.writeFileSync(path.join(project, 'package.json'), JSON.stringify({ name: 'p', version: '0.0.0', dependencies: deps }))
    const lock = ["lockfileVersion: '9.0'", '', 'settings:', '  autoInstallPeers: true', '  excludeLinksFromLockfile: false', '',
      'importers:', '', '  .:', '    dependencies:']
    for (const p of forPnpm) lock.push(`      ${p.fixture.manifest.name}:`, `        specifier: ${p.fixture.manifest.version}`, `        version: ${p.fixture.manifest.version}`)
    lock.push('', 'packages:', '')
    for (const p of forPnpm) {
      lock.push(`  ${p.pkgId}:`, `    resolution: {integrity: ${p.integrity}}`)
      if (p.fixture.manifest.bin !== undefined) lock.push('    hasBin: true')
      lock.push('')
    }
    lock.push('snapshots:', '')
    for (const p of forPnpm) lock.push(`  ${p.pkgId}: {}`, '')
    fs.writeFileSync(path.join(project, 'pnpm-lock.yaml'), lock.join('\n'))
    await runPnpm(['install', '--frozen-lockfile', '--offline', '--trust-lockfile', '--store-dir', b], project, dir)
    for (const p of forPnpm) {
      for (const [name, file] of Object.entries(p.fixture.files)) {
        expect(fs.readFileSync(path.join(project, 'node_modules', p.fixture.manifest.name, name), 'utf8')).toBe(file.body)
      }
    }
    expect(execFileSync(path.join(project, 'node_modules', '.bin', 'pkg-a'), { encoding: 'utf8' })).toBe('pkg-a cli\n')
  })

  it('2. a blob corrupted on the server: B never stores it, gets the package from the registry, and repairs the server', async () => {
    const server = await nginx()
    const packages = makePackages(4, 'rot', 100_000) // data.bin over the pack limit: a blob of its own
    const reg = await registry(packages)
    const dir = tempDir()
    const list = writePackageList(dir, reg, packages)
    await machine(path.join(dir, 'machine-a'), server.url, list)
    const victimBody = contentOf('rot-2', 2, 100_000) // package 2's data.bin (see makePackages)
    const victim = sha512Hex(victimBody)
    const blob = path.join(server.dataDir, remoteFilePath(victim))
    const rotten = Buffer.from(victimBody)
    rotten[1000] = rotten[1000]! ^ 0x20
    fs.writeFileSync(blob, rotten) // same size, same name: only the hash can tell

    const b = path.join(dir, 'machine-b')
    const hitsBefore = reg.hits(packages[2]!.file)
    const runB = await machine(b, server.url, list)
    expect([...runB.results.values()]).toEqual(Array(4).fill('RESULT true'))
    expect(reg.hits(packages[2]!.file)).toBe(hitsBefore + 1) // that one package came from its tarball
    // The others from nginx.
    for (const p of [packages[0]!, packages[1]!, packages[3]!]) expect(reg.hits(p.file)).toBe(1)
    expect(runB.remoteErrors).toHaveLength(1)
    expect(runB.remoteErrors[0]).toMatch(/^REMOTE_ERROR ERR_CAS_REMOTE_CORRUPT .*do not hash to its name/)
    for (const rel of listFiles(path.join(b, 'v11', 'files'))) {
      expect(sha512Hex(fs.readFileSync(path.join(b, 'v11', 'files', rel)))).toBe(rel.replace('/', '').replace(/-exec$/, ''))
    }
    expect(listFiles(path.join(b, 'v11', 'tmp'))).toEqual([])
    const bStore = await openStore(b)
    const index = await bStore.readPackageIndex(packageIndexKey(packages[2]!.integrity, packages[2]!.pkgId))
    expect(await bStore.checkPkgFilesIntegrity(index!)).toMatchObject({ passed: true })
    await bStore.close()
    // B's write-behind overwrote the bad blob with the right bytes.
    expect(sha512Hex(fs.readFileSync(blob))).toBe(victim)

    // The same corruption with the registry down as well: a coded error, and no index.
    fs.writeFileSync(blob, rotten)
    await reg.close()
    const c = path.join(dir, 'machine-c')
    const runC = await machine(c, server.url, list, false)
    expect(runC.results.get(packages[2]!.pkgId)).toMatch(/^ERROR ERR_CAS_FETCH_NETWORK /)
    for (const p of [packages[0]!, packages[1]!, packages[3]!]) expect(runC.results.get(p.pkgId)).toBe('RESULT true')
    expect((await indexesOf(c)).has(packageIndexKey(packages[2]!.integrity, packages[2]!.pkgId))).toBe(false)
  })

  for (const failure of ['down', 'answering 500'] as const) {
    it(`3. a server ${failure}: every install succeeds from the registry, and the error is reported once`, async () => {
      const packages = makePackages(12, `srv-${failure.length}`, 20_000)
      const reg = await registry(packages)
      const dir = tempDir()
      const list = writePackageList(dir, reg, packages)
      let remote: string
      let served: (() => number) | undefined
      if (failure === 'down') {
        const stopped = await startNginx()
        remote = stopped.url
        await stopped.stop() // nothing listens there any more: connection refused
      } else {
        const broken = await nginx({ answer: 500 })
        remote = broken.url
        served = () => broken.requests().length
      }
      const run = await machine(path.join(dir, 'machine'), remote, list)
      expect([...run.results.values()]).toEqual(Array(12).fill('RESULT true'))
      expect(reg.requests).toHaveLength(12)
      expect(run.remoteErrors).toHaveLength(1)
      expect(run.remoteErrors[0]).toMatch(failure === 'down' ? /ERR_CAS_REMOTE_UNAVAILABLE .*connection refused/ : /ERR_CAS_REMOTE_UNAVAILABLE .*HTTP 500/)
      // After the first failure the remote is left alone: at most the reads already in flight (4 jobs) were sent.
      expect(run.stats.requests.GET + run.stats.requests.HEAD + run.stats.requests.PUT).toBeLessThanOrEqual(4)
      if (served !== undefined) expect(served()).toBeLessThanOrEqual(4)
    })
  }

  it('upload: false reads through but never uploads', async () => {
    const server = await nginx()
    const packages = makePackages(3, 'ro', 10_000)
    const reg = await registry(packages)
    const dir = tempDir()
    const run = await machine(path.join(dir, 'machine'), server.url, writePackageList(dir, reg, packages), false)
    expect([...run.results.values()]).toEqual(Array(3).fill('RESULT true'))
    expect(server.requests().map(r => r.method)).toEqual(['GET', 'GET', 'GET']) // three index misses
    expect(serverObjects(server.dataDir)).toEqual([])
  })
})
