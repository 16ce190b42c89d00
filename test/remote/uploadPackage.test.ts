// Uploads: files before the index, only bytes that match their names, safe with two uploaders and with a kill.
import fs from 'node:fs'
import path from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { openStore, packageIndexKey } from '../../lib/index.js'
import { remoteFilePath, remoteIndexPath } from '../../lib/remote/layout.js'
import { runFixture } from '../helpers/child.js'
import { serverObjects, startNginx, type Nginx } from '../helpers/nginx.js'
import { generatePackages } from '../helpers/generatedPackages.js'
import { inspectServer } from '../helpers/remoteServer.js'
import { tempDir } from '../helpers/tmp.js'

const servers: Nginx[] = []
afterEach(async () => { for (const s of servers.splice(0)) await s.stop() })
async function nginx (): Promise<Nginx> {
  const server = await startNginx()
  servers.push(server)
  return server
}

/**
 * What a reader may rely on: every index on the server is readable and every object it needs is there, whole
 * (hashing to its name, and each packed file to its digest). Returns the keys of the indexes found.
 */
function assertServerConsistent (server: Nginx): string[] {
  const view = inspectServer(server.dataDir)
  expect(view.problems).toEqual([])
  return [...view.packages.keys()]
}

describe('uploads', () => {
  it('puts every file of a package on the server before its index', async () => {
    const server = await nginx()
    const [pkg] = generatePackages(1, { seed: 'order', filesPer: 6 })
    const key = packageIndexKey(pkg!.integrity, pkg!.pkgId)
    const seen: Array<{ point: string, indexThere: boolean, files: number }> = []
    const look = (point: string): void => {
      const objects = serverObjects(server.dataDir)
      seen.push({ point, indexThere: objects.includes(remoteIndexPath(key)), files: objects.filter(o => o.startsWith('files/')).length })
    }
    const store = await openStore(tempDir(), {
      remote: server.url,
      _hooks: { 'remote:fileUploaded': () => look('file'), 'remote:filesUploaded': () => look('files') },
    })
    await store.writePackageIndex(key, await store.addFilesFromTarball(pkg!.tgz))
    await store.pushToRemote()
    await store.close()
    // Two objects: the 100 kB file alone, the small ones in the package's pack; then the index.
    expect(seen.filter(s => s.point === 'file')).toHaveLength(2)
    expect(seen.every(s => !s.indexThere)).toBe(true)
    expect(seen.at(-1)).toEqual({ point: 'files', indexThere: false, files: 2 })
    expect(assertServerConsistent(server)).toEqual([key])
    expect(serverObjects(server.dataDir)).toHaveLength(3)
  })

  for (const size of ['small', 'large (streamed)'] as const) {
    it(`never sends a ${size} store file that no longer matches its name, and then no index`, async () => {
      const server = await nginx()
      const [pkg] = generatePackages(1, { seed: `rot-${size}`, filesPer: 25, large: true })
      const key = packageIndexKey(pkg!.integrity, pkg!.pkgId)
      const store = await openStore(tempDir(), { remote: server.url })
      const index = await store.addFilesFromTarball(pkg!.tgz)
      await store.writePackageIndex(key, index)
      const victim = [...index.files.values()].sort((a, b) => size === 'small' ? a.size - b.size : b.size - a.size)[0]!
      expect(victim.size > 1024 * 1024).toBe(size !== 'small')
      const file = store.filePathFor(victim.digest, victim.mode)
      const rotten = fs.readFileSync(file)
      // The last byte: a streamed upload must not have sent the rest before noticing.
      rotten[rotten.length - 1] = rotten[rotten.length - 1]! ^ 1
      fs.writeFileSync(file, rotten)
      const report = await store.pushToRemote()
      await store.close()
      expect(report.packagesUploaded).toBe(0)
      expect(report.problems).toEqual([expect.objectContaining({ key, code: 'ERR_CAS_INTEGRITY' })])
      expect(serverObjects(server.dataDir)).not.toContain(remoteFilePath(victim.digest))
      expect(serverObjects(server.dataDir)).not.toContain(remoteIndexPath(key))
      assertServerConsistent(server)
    })
  }

  it('two processes uploading the same packages at once: no error, one copy of each object', async () => {
    const server = await nginx()
    const children = [0, 1].map(i => runFixture('remotePush.ts', [path.join(tempDir(), `machine-${i}`), server.url, 'twins', '12']))
    await Promise.all(children.map(async c => await c.line(l => l === 'READY')))
    for (const c of children) c.send('GO')
    const results = await Promise.all(children.map(async c => await c.line(l => l.startsWith('RESULT ') || l.startsWith('ERROR '))))
    for (const c of children) await c.exited
    for (const r of results) expect(r).toMatch(/^RESULT /)
    const reports = results.map(r => JSON.parse(r.slice('RESULT '.length)) as { packagesUploaded: number, packagesSkipped: number, problems: unknown[] })
    for (const r of reports) expect(r.problems).toEqual([])
    expect(reports[0]!.packagesUploaded + reports[0]!.packagesSkipped).toBe(12)
    const packages = generatePackages(12, { seed: 'twins', large: true, filesPer: 5 })
    const keys = packages.map(p => packageIndexKey(p.integrity, p.pkgId))
    expect(assertServerConsistent(server).sort()).toEqual([...keys].sort())
    // One copy of each: every object on the server is one an index needs, under its own name; nothing else.
    const view = inspectServer(server.dataDir)
    expect(view.objects).toEqual([...view.referenced, ...keys.map(remoteIndexPath)].sort())
    expect(server.errorLog()).not.toMatch(/\[(error|crit|alert|emerg)\]/)
  })

  it('a process killed mid-upload never leaves an index whose files are missing; a later push completes', async () => {
    const server = await nginx()
    const storeDir = path.join(tempDir(), 'machine')
    const child = runFixture('remotePush.ts', [storeDir, server.url, 'killed', '10'], { env: { ...process.env, HANG_AFTER: '9' } })
    await child.line(l => l === 'READY')
    child.send('GO')
    await child.line(l => l === 'PARKED')
    child.proc.kill('SIGKILL')
    await child.exited
    // Re-list after the kill: some packages got their index (all their files were up), the others none.
    const keys = generatePackages(10, { seed: 'killed', large: true, filesPer: 5 }).map(p => packageIndexKey(p.integrity, p.pkgId))
    const indexed = assertServerConsistent(server)
    expect(indexed.length).toBeLessThan(10)
    expect(serverObjects(server.dataDir).some(o => o.startsWith('files/'))).toBe(true)

    // The same machine pushes again: it completes what was cut.
    const again = runFixture('remotePush.ts', [storeDir, server.url, 'killed', '10'])
    await again.line(l => l === 'READY')
    again.send('GO')
    const result = await again.line(l => l.startsWith('RESULT ') || l.startsWith('ERROR '))
    await again.exited
    expect(result).toMatch(/^RESULT /)
    expect(JSON.parse(result.slice(7)))
      .toMatchObject({ packagesUploaded: 10 - indexed.length, packagesSkipped: indexed.length, problems: [] })
    expect(assertServerConsistent(server).sort()).toEqual([...keys].sort())
  })
})
