// The remote tier's explicit verbs against a real nginx: push a store, pull it into an empty one, byte for byte.
import fs from 'node:fs'
import zlib from 'node:zlib'
import path from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { openStore, packageIndexKey, type Store } from '../../lib/index.js'
import { remoteFilePath, remoteIndexPath } from '../../lib/remote/layout.js'
import { decodeRemoteIndex } from '../../lib/remote/indexCodec.js'
import { sha512Hex } from '../helpers/content.js'
import { startNginx, type Nginx } from '../helpers/nginx.js'
import { inspectServer } from '../helpers/remoteServer.js'
import { generatePackages, type GeneratedPackage } from '../helpers/generatedPackages.js'
import { listFiles, tempDir } from '../helpers/tmp.js'

const servers: Nginx[] = []
afterEach(async () => { for (const s of servers.splice(0)) await s.stop() })
async function nginx (...args: Parameters<typeof startNginx>): Promise<Nginx> {
  const server = await startNginx(...args)
  servers.push(server)
  return server
}

async function fill (store: Store, packages: GeneratedPackage[]): Promise<string[]> {
  const keys: string[] = []
  for (const pkg of packages) {
    const key = packageIndexKey(pkg.integrity, pkg.pkgId)
    await store.writePackageIndex(key, await store.addFilesFromTarball(pkg.tgz))
    keys.push(key)
  }
  return keys
}

describe('push and pull', () => {
  it('pushes every package (files, then its index) and pulls each into an empty store byte for byte', async () => {
    const server = await nginx()
    const dir = tempDir()
    const packages = generatePackages(6, { large: true, filesPer: 5 })
    const a = await openStore(path.join(dir, 'a'), { remote: server.url })
    const keys = await fill(a, packages)
    const report = await a.pushToRemote()
    expect(report).toMatchObject({ packagesUploaded: 6, packagesSkipped: 0, problems: [] })
    // Per package: its index, its pack of small files, each file over the pack limit alone (a large file shared
    // by two packages once); every object whole and needed, nothing else.
    const view = inspectServer(server.dataDir)
    expect(view.problems).toEqual([])
    expect([...view.packages.keys()].sort()).toEqual([...keys].sort())
    expect(view.objects).toEqual([...view.referenced, ...keys.map(remoteIndexPath)].sort())
    for (const pkg of packages) {
      const onServer = view.packages.get(packageIndexKey(pkg.integrity, pkg.pkgId))!
      const loose = [...pkg.files.values()].filter(f => f.body.length > 64 * 1024)
        .map(f => remoteFilePath(sha512Hex(f.body)))
      expect(onServer.needs.sort()).toEqual([...new Set([...loose, remoteFilePath(onServer.pack!.digest)])].sort())
    }
    // The index on the server says what it is, and whose it is.
    const firstIndex = fs.readFileSync(path.join(server.dataDir, remoteIndexPath(keys[0]!)))
    const onServer = JSON.parse(zlib.gunzipSync(firstIndex).toString())
    expect(onServer).toMatchObject({ format: 'cas-store/package-index', version: 1, key: keys[0], algo: 'sha512' })
    expect(decodeRemoteIndex(keys[0]!, firstIndex).files.size).toBe(9)

    // A second push finds everything there: one HEAD per package, no PUT.
    const before = server.requests().length
    expect(await a.pushToRemote()).toMatchObject({ packagesUploaded: 0, packagesSkipped: 6 })
    expect(server.requests().slice(before).map(r => r.method)).toEqual(Array(6).fill('HEAD'))
    await a.close()

    const b = await openStore(path.join(dir, 'b'), { remote: server.url })
    for (const key of keys) expect((await b.pullFromRemote(key)).status).toBe('pulled')
    const aIndexes = await indexesOf(path.join(dir, 'a'))
    const bIndexes = await indexesOf(path.join(dir, 'b'))
    expect([...bIndexes.keys()].sort()).toEqual([...keys].sort())
    for (const [key, index] of bIndexes) {
      expect(strip(index)).toEqual(strip(aIndexes.get(key)!))
      expect(await b.checkPkgFilesIntegrity(index)).toMatchObject({ passed: true })
    }
    await b.close()
    expect(listFiles(path.join(dir, 'b', 'v11', 'files'))).toEqual(listFiles(path.join(dir, 'a', 'v11', 'files')))
    for (const rel of listFiles(path.join(dir, 'a', 'v11', 'files'))) {
      expect(fs.readFileSync(path.join(dir, 'b', 'v11', 'files', rel)).equals(fs.readFileSync(path.join(dir, 'a', 'v11', 'files', rel)))).toBe(true)
      expect(fs.statSync(path.join(dir, 'b', 'v11', 'files', rel)).mode).toBe(fs.statSync(path.join(dir, 'a', 'v11', 'files', rel)).mode)
    }
  })

  it('pulls only the files the store lacks', async () => {
    const server = await nginx()
    const dir = tempDir()
    const [one, two] = generatePackages(2, { filesPer: 6 })
    const a = await openStore(path.join(dir, 'a'), { remote: server.url })
    const [, twoKey] = await fill(a, [one!, two!])
    await a.pushToRemote()
    await a.close()
    const b = await openStore(path.join(dir, 'b'), { remote: server.url })
    await fill(b, [one!]) // holds the LICENSE both packages share
    const before = server.requests().length
    const outcome = await b.pullFromRemote(twoKey!)
    await b.close()
    expect(outcome).toMatchObject({ status: 'pulled', filesDownloaded: two!.files.size - 1 })
    // The index, the 100 kB file, and one range request for the pack's other small files (206, not the whole pack).
    const gets = server.requests().slice(before).filter(r => r.method === 'GET')
    expect(gets.map(r => r.status).sort()).toEqual([200, 200, 206])
    const lacked = [...two!.files].filter(([name]) => name !== 'LICENSE').reduce((n, [, f]) => n + f.body.length, 0)
    const indexBytes = gets.find(r => r.path.includes('/index/'))!.bytesSent
    if (outcome.status !== 'pulled') throw new Error('not pulled')
    expect(outcome.bytesDownloaded - indexBytes).toBeGreaterThanOrEqual(lacked)
    expect(outcome.bytesDownloaded - indexBytes).toBeLessThanOrEqual(lacked + 2 * 128) // multipart headers, merged gaps
  })

  it('a key the remote does not have is a miss, not an error', async () => {
    const server = await nginx()
    const store = await openStore(tempDir(), { remote: server.url })
    const [pkg] = generatePackages(1)
    expect(await store.pullFromRemote(packageIndexKey(pkg!.integrity, pkg!.pkgId))).toEqual({ status: 'miss' })
    await store.close()
  })
})

async function indexesOf (dir: string): Promise<Map<string, import('../../lib/index.js').PackageIndex>> {
  const store = await openStore(dir)
  const out = new Map<string, import('../../lib/index.js').PackageIndex>()
  for await (const { key, index } of store.listPackageIndexes()) out.set(key, index!)
  await store.close()
  return out
}

function strip (index: import('../../lib/index.js').PackageIndex): unknown {
  return { ...index, files: [...index.files].map(([name, { digest, mode, size }]) => ({ name, digest, mode, size })) }
}
