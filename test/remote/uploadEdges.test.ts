// The remote tier's write side at its edges, from a second read of it: empty files (in packs a range of no bytes
// cannot be asked for), a store file rewritten longer while its upload waits, a slow but flowing upload, and an
// async error handler that rejects. Real nginx, except where a test needs a server that reads slowly.
import crypto from 'node:crypto'
import fs from 'node:fs'
import http from 'node:http'
import path from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { openStore, packageIndexKey, type CasError } from '../../lib/index.js'
import { RemoteHttp } from '../../lib/remote/http.js'
import { encodeRemoteIndex } from '../../lib/remote/indexCodec.js'
import { remoteFilePath, remoteIndexPath } from '../../lib/remote/layout.js'
import { openLocalBlob } from '../../lib/remote/localBlob.js'
import { resolveRemote } from '../../lib/remote/options.js'
import { contentOf, sha512Hex } from '../helpers/content.js'
import { listenLoopback } from '../helpers/listen.js'
import { serverObjects, startNginx, type Nginx } from '../helpers/nginx.js'
import { sriOf } from '../helpers/pnpm.js'
import { inspectServer } from '../helpers/remoteServer.js'
import { makeTarball } from '../helpers/tarball.js'
import { tempDir } from '../helpers/tmp.js'

const stops: Array<() => Promise<void>> = []
afterEach(async () => { for (const stop of stops.splice(0)) await stop() })
async function nginx (options?: Parameters<typeof startNginx>[0]): Promise<Nginx> {
  const server = await startNginx(options)
  stops.push(server.stop)
  return server
}

function pkg (name: string, files: Record<string, string | Buffer>): { integrity: string, pkgId: string, tgz: Buffer } {
  const tgz = makeTarball(Object.entries(files).map(([p, body]) => ({ path: `package/${p}`, body: Buffer.from(body), mode: 0o644 })))
  return { integrity: sriOf(tgz), pkgId: `${name}@1.0.0`, tgz }
}

const EMPTY = sha512Hex(Buffer.alloc(0))

describe('empty files', () => {
  const shared = { 'package.json': '{"name":"p","version":"1.0.0"}\n', 'a.js': 'module.exports = 1\n', 'b.js': 'module.exports = 2\n' }
  const p = pkg('p', { ...shared, 'empty.txt': '' })
  const q = pkg('q', shared)

  /** Machine B holds every file of p but the empty one (through q), then installs p: from the remote, quietly. */
  async function warmReaderInstallsP (server: Nginx): Promise<void> {
    const errors: CasError[] = []
    const remote = { url: server.url, upload: false }
    const b = await openStore(tempDir(), { remote, onRemoteError: e => errors.push(e) })
    await b.ensurePackage({ integrity: q.integrity, pkgId: q.pkgId, tarball: async () => q.tgz })
    let tarballAsked = false
    const tarball = async (): Promise<Buffer> => {
      tarballAsked = true
      return p.tgz
    }
    const result = await b.ensurePackage({ integrity: p.integrity, pkgId: p.pkgId, tarball })
    await b.close()
    expect(fs.existsSync(b.filePathFor(EMPTY, 0o644))).toBe(true) // in the store, as its index says
    expect(result.index.files.get('empty.txt')).toMatchObject({ digest: EMPTY, size: 0 })
    expect(errors.map(e => `${e.code}: ${e.message}`)).toEqual([])
    expect(tarballAsked).toBe(false)
  }

  async function published (server: Nginx): Promise<string> {
    const a = await openStore(tempDir(), { remote: server.url })
    await a.ensurePackage({ integrity: p.integrity, pkgId: p.pkgId, tarball: async () => p.tgz })
    await a.close()
    return packageIndexKey(p.integrity, p.pkgId)
  }

  it('are left out of packs (a range of no bytes gets 416, which turned the remote off), and read without a request', async () => {
    const server = await nginx()
    const key = await published(server)
    const onServer = inspectServer(server.dataDir)
    expect(onServer.problems).toEqual([])
    expect([...onServer.packages.get(key)!.pack!.offsets.keys()]).not.toContain(EMPTY)
    await warmReaderInstallsP(server)
  })

  it('named in a pack uploaded before that (an older cas-store) are still read without a request', async () => {
    const server = await nginx()
    const key = await published(server)
    const { index, pack } = inspectServer(server.dataDir).packages.get(key)!
    const offsets = new Map([...pack!.offsets, [EMPTY, 0]])
    const indexFile = path.join(server.dataDir, remoteIndexPath(key))
    const { uid, gid } = fs.statSync(indexFile)
    fs.writeFileSync(indexFile, encodeRemoteIndex(key, index, { ...pack!, offsets }))
    fs.chownSync(indexFile, uid, gid)
    await warmReaderInstallsP(server)
  })
})

describe('a store file rewritten longer while its upload waits', () => {
  it('never reaches the server under its old name, even when the old size is a whole number of read chunks', async () => {
    const server = await nginx()
    const dir = tempDir()
    const file = path.join(dir, 'blob')
    const good = contentOf('grow', 0, 2 * 1024 * 1024) // 2 MiB: streamed, 32 chunks of 64 KiB
    fs.writeFileSync(file, good)
    const digest = sha512Hex(good)
    const blob = await openLocalBlob(file, digest, good.length)
    // A hard-linked copy in node_modules edited in place, longer, while the upload waited for a slot.
    fs.writeFileSync(file, Buffer.concat([good, Buffer.from('one more line\n')]))
    const remote = new RemoteHttp(resolveRemote(server.url))
    await expect(remote.put(remoteFilePath(digest), blob!.body, blob!.size)).rejects.toMatchObject({ code: 'ERR_CAS_INTEGRITY' })
    expect(serverObjects(server.dataDir)).not.toContain(remoteFilePath(digest))
    // And unchanged, it goes up whole.
    fs.writeFileSync(file, good)
    await remote.put(remoteFilePath(digest), (await openLocalBlob(file, digest, good.length))!.body, good.length)
    expect(crypto.createHash('sha512').update(fs.readFileSync(path.join(server.dataDir, remoteFilePath(digest)))).digest('hex')).toBe(digest)
  })
})

describe('a slow but flowing upload', () => {
  /** A server that reads request bodies at `bytesPerSecond`, and answers 201 once it has one whole. */
  async function slowServer (bytesPerSecond: number): Promise<string> {
    const server = http.createServer((req, res) => {
      if (req.method !== 'PUT') {
        req.resume()
        res.writeHead(404).end()
        return
      }
      req.on('data', (chunk: Buffer) => {
        req.pause()
        setTimeout(() => req.resume(), chunk.length / bytesPerSecond * 1000)
      })
      req.on('end', () => { res.writeHead(201).end() })
    })
    const { url, close } = await listenLoopback(server)
    stops.push(close)
    return url.slice(0, -'/f.bin'.length)
  }

  it.each([['one 8 MiB file (streamed)'], ['128 files of 64 KiB (one 8 MiB pack, a Buffer)']])('%s is not timed out while its bytes flow', async shape => {
    // ~4 s for 8 MiB, against a timeout of 2.5 s without a byte: the gaps between chunks are ~30 ms, so only a
    // timeout that counts the whole upload fails. (With 1.2 s against ~2 s, a machine loaded by a mutation run
    // stalled the event loop past the timeout once.)
    const url = await slowServer(2 * 1024 * 1024)
    const files: Record<string, Buffer> = {}
    if (shape.startsWith('one')) files['big.bin'] = contentOf('slow-one', 0, 8 * 1024 * 1024)
    else for (let i = 0; i < 128; i++) files[`f${i}.bin`] = contentOf('slow-pack', i, 64 * 1024)
    const p = pkg('slow', files)
    const store = await openStore(tempDir(), { remote: { url, timeoutMs: 2500 } })
    await store.writePackageIndex(packageIndexKey(p.integrity, p.pkgId), await store.addFilesFromTarball(p.tgz))
    const pushed = await store.pushToRemote()
    await store.close()
    expect(pushed).toMatchObject({ packagesUploaded: 1 })
  }, 60_000)
})

it('an async onRemoteError that rejects is dropped, not an unhandled rejection', async () => {
  const server = await nginx({ answer: 500 })
  const p = pkg('asyncerr', { 'package.json': '{}', 'x.js': 'x' })
  const unhandled: unknown[] = []
  const onUnhandled = (reason: unknown): void => { unhandled.push(reason) }
  process.on('unhandledRejection', onUnhandled)
  let told = 0
  try {
    const failingLogger = async (): Promise<void> => {
      told++
      throw new Error('logger down')
    }
    // eslint-disable-next-line @typescript-eslint/no-misused-promises -- an async handler is what is tested
    const store = await openStore(tempDir(), { remote: server.url, onRemoteError: failingLogger })
    await store.ensurePackage({ integrity: p.integrity, pkgId: p.pkgId, tarball: async () => p.tgz })
    await store.close()
    await new Promise(resolve => setImmediate(resolve))
    await new Promise(resolve => setImmediate(resolve))
  } finally {
    process.off('unhandledRejection', onUnhandled)
  }
  expect(told).toBeGreaterThan(0)
  expect(unhandled).toEqual([])
})
