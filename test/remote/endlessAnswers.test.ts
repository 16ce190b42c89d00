// A remote cache's answers are read up to what they can rightly hold, no further: a server (or a proxy in front of
// it) that sends without end costs a runner neither its memory nor its disk. Each case serves a real published
// package from nginx's data folder through a small server of the test's own, which sends one object followed by
// junk, chunked (no Content-Length), until the client hangs up or `JUNK_CAP` bytes are out.
import fs from 'node:fs'
import http from 'node:http'
import path from 'node:path'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { openStore, packageIndexKey } from '../../lib/index.js'
import { MAX_INDEX_BYTES } from '../../lib/remote/indexCodec.js'
import { remoteFilePath, remoteIndexPath } from '../../lib/remote/layout.js'
import { sha512Hex } from '../helpers/content.js'
import { sendEndless } from '../helpers/endlessBody.js'
import { generatePackages } from '../helpers/generatedPackages.js'
import { servePackages } from '../helpers/packages.js'
import { listenLoopback } from '../helpers/listen.js'
import { startNginx, type Nginx } from '../helpers/nginx.js'
import { inspectServer } from '../helpers/remoteServer.js'
import { listFiles, tempDir } from '../helpers/tmp.js'

/** Junk sent after the object at most: past every bound below, so an unbounded reader reads all of it. */
const JUNK_CAP = MAX_INDEX_BYTES + 64 * 1024 * 1024

let nginx: Nginx
beforeAll(async () => { nginx = await startNginx() })
afterAll(async () => { await nginx.stop() })
const closers: Array<() => Promise<void>> = []
afterEach(async () => { for (const close of closers.splice(0)) await close() })

/** Serves nginx's data folder; `endless` (a path of the remote layout) gets junk after its bytes. */
async function endlessAt (endless: string): Promise<{ url: string, sent: () => number }> {
  let sent = 0
  const server = http.createServer((req, res) => {
    const rel = decodeURIComponent(new URL(req.url!, 'http://x').pathname.slice(1))
    const file = path.join(nginx.dataDir, rel)
    if (!fs.existsSync(file)) {
      res.writeHead(404).end()
      return
    }
    const bytes = fs.readFileSync(file)
    if (rel !== endless) {
      res.writeHead(200, { 'content-length': bytes.length }).end(bytes)
      return
    }
    sendEndless(res, bytes, JUNK_CAP, n => { sent += n }, 256 * 1024)
  })
  const { url, close } = await listenLoopback(server)
  closers.push(close)
  return { url: url.slice(0, -'/f.bin'.length), sent: () => sent }
}

async function publishOne (seed: string): Promise<string> {
  const [pkg] = generatePackages(1, { seed, filesPer: 4 })
  const store = await openStore(tempDir(), { remote: nginx.url })
  const key = packageIndexKey(pkg!.integrity, pkg!.pkgId)
  await store.writePackageIndex(key, await store.addFilesFromTarball(pkg!.tgz))
  await store.pushToRemote()
  await store.close()
  return key
}

/** Pulls `key` into an empty store through `url`; what came of it, and what the store holds after. */
async function pullThrough (url: string, key: string): Promise<{ outcome: unknown, dir: string, indexed: boolean }> {
  const dir = tempDir()
  const store = await openStore(dir, { remote: url })
  const outcome = await store.pullFromRemote(key)
  const indexed = (await store.readPackageIndex(key)) !== undefined
  await store.close()
  return { outcome, dir, indexed }
}

/** Every content file the store holds hashes to its name; no temp file is left. */
function onlyGoodContent (dir: string): void {
  const files = path.join(dir, 'v11', 'files')
  for (const rel of listFiles(files)) {
    expect(sha512Hex(fs.readFileSync(path.join(files, rel)))).toBe(rel.replace('/', '').replace(/-exec$/, ''))
  }
  expect(listFiles(path.join(dir, 'v11', 'tmp'))).toEqual([])
}

describe('read-through stops reading an answer that runs past what it can hold', () => {
  it('a loose file: cut off after the size its index gives (no byte past it stored), the object reported bad', async () => {
    const key = await publishOne('endless-loose')
    const files = inspectServer(nginx.dataDir).packages.get(key)!.index.files
    const loose = [...files.values()].find(f => f.size > 64 * 1024)!
    const server = await endlessAt(remoteFilePath(loose.digest))
    const { outcome, dir, indexed } = await pullThrough(server.url, key)
    expect(outcome).toMatchObject({ status: 'bad', error: { code: 'ERR_CAS_REMOTE_CORRUPT' } })
    expect((outcome as { error: Error }).error.message).toContain(`more than the ${loose.size} bytes`)
    expect([...(outcome as { badFiles: Set<string> }).badFiles]).toEqual([loose.digest])
    expect(indexed).toBe(false)
    onlyGoodContent(dir)
    // What the server got out before the client hung up: the object, a socket's buffers, no more.
    expect(server.sent()).toBeLessThan(16 * 1024 * 1024)
  })

  it('a loose file longer than its index says, with a true Content-Length: refused and counted bad', async () => {
    for (const extra of [1, 4096]) { // collected in memory (a small answer), then streamed to the writer
      const key = await publishOne(`longer-loose-${extra}`)
      const files = inspectServer(nginx.dataDir).packages.get(key)!.index.files
      const loose = [...files.values()].find(f => f.size > 64 * 1024)!
      fs.appendFileSync(path.join(nginx.dataDir, remoteFilePath(loose.digest)), Buffer.alloc(extra, 0x61))
      const { outcome, dir, indexed } = await pullThrough(nginx.url, key)
      expect(outcome).toMatchObject({ status: 'bad', error: { code: 'ERR_CAS_REMOTE_CORRUPT' } })
      // Counted bad, so the write-behind of the install that falls back to the tarball puts the right bytes over it.
      expect([...(outcome as { badFiles: Set<string> }).badFiles]).toEqual([loose.digest])
      expect(indexed).toBe(false)
      onlyGoodContent(dir)
    }
  })

  it('and an install that meets it repairs it: the tarball\'s write-behind puts the right bytes over the longer file', async () => {
    const [pkg] = generatePackages(1, { seed: 'longer-repaired', filesPer: 2 })
    const registry = await servePackages([{ file: 'p.tgz', tgz: pkg!.tgz, integrity: pkg!.integrity, pkgId: pkg!.pkgId }])
    closers.push(registry.close)
    const ask = { integrity: pkg!.integrity, pkgId: pkg!.pkgId, tarball: registry.url('p.tgz') }
    const first = await openStore(tempDir(), { remote: nginx.url })
    await first.ensurePackage(ask)
    await first.close()
    const big = [...pkg!.files.values()].map(f => f.body).find(b => b.length > 64 * 1024)!
    const blob = path.join(nginx.dataDir, remoteFilePath(sha512Hex(big)))
    fs.appendFileSync(blob, 'x')
    const errors: string[] = []
    const second = await openStore(tempDir(), { remote: nginx.url, onRemoteError: e => errors.push(e.code) })
    await second.ensurePackage(ask)
    await second.close()
    expect(errors).toEqual(['ERR_CAS_REMOTE_CORRUPT'])
    expect(fs.readFileSync(blob).equals(big)).toBe(true)
  })

  it('a pack: cut off after the pack\'s size (with room for a multipart answer\'s headers)', async () => {
    const key = await publishOne('endless-pack')
    const pack = inspectServer(nginx.dataDir).packages.get(key)!.pack!
    const server = await endlessAt(remoteFilePath(pack.digest))
    const { outcome, dir, indexed } = await pullThrough(server.url, key)
    expect(outcome).toMatchObject({ status: 'bad', error: { code: 'ERR_CAS_REMOTE_CORRUPT' } })
    expect((outcome as { error: Error }).error.message).toContain('larger than the')
    expect([...(outcome as { badFiles: Set<string> }).badFiles]).toEqual([pack.digest])
    expect(indexed).toBe(false)
    onlyGoodContent(dir)
    expect(server.sent()).toBeLessThan(16 * 1024 * 1024)
  })

  it('a package index: cut off at 64 MiB, reported bad, nothing downloaded after it', async () => {
    const key = await publishOne('endless-index')
    const server = await endlessAt(remoteIndexPath(key))
    const { outcome, dir, indexed } = await pullThrough(server.url, key)
    expect(outcome).toMatchObject({ status: 'bad', error: { code: 'ERR_CAS_REMOTE_CORRUPT' } })
    expect((outcome as { error: Error }).error.message).toContain(`larger than ${MAX_INDEX_BYTES} bytes`)
    expect(indexed).toBe(false)
    expect(listFiles(path.join(dir, 'v11', 'files'))).toEqual([])
    expect(server.sent()).toBeLessThan(MAX_INDEX_BYTES + 16 * 1024 * 1024)
  })
})
