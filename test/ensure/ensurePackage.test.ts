import crypto from 'node:crypto'
import path from 'node:path'
import { Readable } from 'node:stream'
import { afterEach, describe, expect, it } from 'vitest'
import { openStore, packageIndexKey, type Store } from '../../lib/index.js'
import { packageLockFile } from '../../lib/ensure/packageLock.js'
import { withKeyLock } from '../../lib/lock/keyLock.js'
import type { PackageServer } from '../helpers/packageServer.js'
import { startPackageServer } from '../helpers/packageServer.js'
import { makePackages, type TestPackage } from '../helpers/packages.js'
import { sriOf } from '../helpers/pnpm.js'
import { listFiles, tempDir } from '../helpers/tmp.js'

const servers: PackageServer[] = []
afterEach(async () => { for (const s of servers.splice(0)) await s.close() })

async function serve (
  packages: TestPackage[], extra: Record<string, Buffer> = {}, options?: { delayMs?: number },
): Promise<PackageServer> {
  const tarballs = new Map([...packages.map(p => [p.file, p.tgz] as const), ...Object.entries(extra)])
  const server = await startPackageServer(tarballs, options)
  servers.push(server)
  return server
}

/** Nothing half-written: no index for the key, no temp file, no lock file, no tarball among the content files. */
async function expectNothingLeft (store: Store, key: string, tgz?: Buffer): Promise<void> {
  expect(await store.readPackageIndex(key)).toBeUndefined()
  expect(listFiles(path.join(store.root, 'tmp'))).toEqual([])
  expect(listFiles(path.join(store.root, 'locks', 'packages'))).toEqual([])
  if (tgz !== undefined) {
    const digest = crypto.createHash('sha512').update(tgz).digest('hex')
    expect(listFiles(path.join(store.root, 'files')).some(f => f.replace('/', '').startsWith(digest))).toBe(false)
  }
}

describe('ensurePackage', () => {
  it('fetches, adds and indexes a package once; then returns it from the store without a request', async () => {
    const [pkg] = makePackages(1, 'once')
    const server = await serve([pkg!])
    const store = await openStore(tempDir())
    const asked = { integrity: pkg!.integrity, pkgId: pkg!.pkgId, tarball: server.url(pkg!.file) }
    const first = await store.ensurePackage(asked)
    expect(first.fetched).toBe(true)
    expect(first.key).toBe(packageIndexKey(pkg!.integrity, pkg!.pkgId))
    expect([...first.index.files.keys()].sort()).toEqual(['README.md', 'cli.js', 'data.bin', 'package.json'])
    expect(first.index).toMatchObject({
      tarIntegrity: pkg!.integrity, manifest: { name: 'once-0', version: '1.0.0' }, requiresBuild: false,
    })
    expect(await store.readPackageIndex(first.key)).toEqual(first.index)
    const second = await store.ensurePackage(asked)
    expect(second).toEqual({ ...first, fetched: false })
    expect(server.hits(pkg!.file)).toBe(1)
    await expectNothingLeft(store, 'sha512-AAAA\tnone@1.0.0', pkg!.tgz)
    await store.close()
  })

  it('a stored package is returned without taking its lock (even while another holds it)', async () => {
    const [pkg] = makePackages(1, 'nolock')
    const server = await serve([pkg!])
    const store = await openStore(tempDir())
    const options = { integrity: pkg!.integrity, pkgId: pkg!.pkgId, tarball: server.url(pkg!.file) }
    const { key } = await store.ensurePackage(options)
    let release!: () => void
    const held = withKeyLock(packageLockFile(store.root, key), key, async () => {
      await new Promise<void>(resolve => { release = resolve })
    })
    await expect(store.ensurePackage({ ...options, timeoutMs: 200 })).resolves.toMatchObject({ fetched: false })
    release()
    await held
    await store.close()
  })

  it('twenty tasks of one process asking at once: one download, one of them fetched', async () => {
    const [pkg] = makePackages(1, 'tasks', 300_000)
    const server = await serve([pkg!], {}, { delayMs: 2 })
    const store = await openStore(tempDir())
    const results = await Promise.all(Array.from({ length: 20 }, async () =>
      await store.ensurePackage({ integrity: pkg!.integrity, pkgId: pkg!.pkgId, tarball: server.url(pkg!.file) })))
    expect(server.hits(pkg!.file)).toBe(1)
    expect(results.filter(r => r.fetched)).toHaveLength(1)
    for (const r of results) expect(r.index.files).toEqual(results[0]!.index.files)
    await store.close()
  })

  it('waiting is visible and bounded: onWait names the holder, timeoutMs gives ERR_CAS_LOCK_TIMEOUT', async () => {
    const [pkg] = makePackages(1, 'wait')
    const server = await serve([pkg!])
    const store = await openStore(tempDir())
    const key = packageIndexKey(pkg!.integrity, pkg!.pkgId)
    let release!: () => void
    let entered!: () => void
    const inside = new Promise<void>(resolve => { entered = resolve })
    // Another holder of the package's lock (a separate descriptor excludes us as another process would).
    const held = withKeyLock(packageLockFile(store.root, key), key, async () => {
      entered()
      await new Promise<void>(resolve => { release = resolve })
    })
    await inside
    const waits: Array<number | undefined> = []
    await expect(store.ensurePackage({
      integrity: pkg!.integrity,
      pkgId: pkg!.pkgId,
      tarball: server.url(pkg!.file),
      timeoutMs: 300,
      onWait: w => waits.push(w.holder?.pid),
    })).rejects.toMatchObject({ code: 'ERR_CAS_LOCK_TIMEOUT', holder: { pid: process.pid } })
    expect(waits[0]).toBe(process.pid)
    expect(server.hits(pkg!.file)).toBe(0)
    release()
    await held
    await store.close()
  })

  it('takes the installer\'s own fetcher (a Buffer or a stream), and its failure comes out as it was thrown', async () => {
    const [a, b] = makePackages(2, 'fn')
    const store = await openStore(tempDir())
    const pinnedA = { integrity: a!.integrity, pkgId: a!.pkgId }
    const fromBuffer = await store.ensurePackage({ ...pinnedA, tarball: async () => a!.tgz })
    expect(fromBuffer.fetched).toBe(true)
    const chunks = [b!.tgz.subarray(0, 100), b!.tgz.subarray(100)]
    const pinnedB = { integrity: b!.integrity, pkgId: b!.pkgId }
    const fromStream = await store.ensurePackage({ ...pinnedB, tarball: async () => Readable.from(chunks) })
    expect(fromStream.fetched).toBe(true)
    const mine = new Error('my registry client failed')
    const broken = async function * (): AsyncGenerator<Buffer> {
      yield a!.tgz.subarray(0, 200)
      throw mine
    }
    const [c] = makePackages(1, 'fn-broken')
    const pinned = { integrity: c!.integrity, pkgId: c!.pkgId }
    await expect(store.ensurePackage({ ...pinned, tarball: async () => broken() })).rejects.toBe(mine)
    await expect(store.ensurePackage({ ...pinned, tarball: async () => { throw mine } })).rejects.toBe(mine)
    await expectNothingLeft(store, packageIndexKey(c!.integrity, c!.pkgId))
    await store.close()
  })

  it('refuses bad arguments before any work', async () => {
    const store = await openStore(tempDir())
    const url = 'http://127.0.0.1:9/x.tgz'
    await expect(store.ensurePackage({ integrity: 'md5-AAAA', pkgId: 'a@1', tarball: url })).rejects.toMatchObject({ code: 'ERR_CAS_INVALID_ARGUMENT' })
    await expect(store.ensurePackage({ integrity: sriOf(Buffer.from('x')), pkgId: '', tarball: url })).rejects.toMatchObject({ code: 'ERR_CAS_INVALID_ARGUMENT' })
    await expect(store.ensurePackage({ integrity: sriOf(Buffer.from('x')), pkgId: 'a@1', tarball: 42 as unknown as string })).rejects.toMatchObject({ code: 'ERR_CAS_INVALID_ARGUMENT' })
    await store.close()
  })

  it('refuses options that are not an object, saying what to pass', async () => {
    const store = await openStore(tempDir())
    for (const options of [null, undefined, 'left-pad@1.3.0']) {
      const err = await store.ensurePackage(options as never).catch((e: unknown) => e as Error)
      expect(err).toMatchObject({ code: 'ERR_CAS_INVALID_ARGUMENT' })
      expect((err as Error).message).toContain('pass { integrity, pkgId, tarball }')
    }
    await store.close()
  })

  it('refuses a pkgId that is not a non-empty string (42 would make a valid-looking key), saying it is name@version', async () => {
    const store = await openStore(tempDir())
    const integrity = sriOf(Buffer.from('x'))
    for (const pkgId of [42, undefined, '']) {
      const err = await store.ensurePackage({ integrity, pkgId: pkgId as string, tarball: 'http://127.0.0.1:9/x.tgz' })
        .catch((e: unknown) => e as Error)
      expect(err).toMatchObject({ code: 'ERR_CAS_INVALID_ARGUMENT' })
      expect((err as Error).message).toContain('`pkgId` must be the package\'s "name@version"')
    }
    await store.close()
  })

  it('refuses a tarball that is neither a URL nor a function, saying which it may be', async () => {
    const store = await openStore(tempDir())
    const err = await store.ensurePackage({ integrity: sriOf(Buffer.from('x')), pkgId: 'a@1', tarball: 42 as unknown as string })
      .catch((e: unknown) => e as Error)
    expect((err as Error).message).toContain('`tarball` is a URL, or a function resolving to a Buffer or stream')
    await store.close()
  })

  it('an installer\'s fetcher resolving to neither a Buffer nor a stream: ERR_CAS_INVALID_ARGUMENT, no index', async () => {
    const [pkg] = makePackages(1, 'fn-odd')
    const store = await openStore(tempDir())
    for (const value of [null, undefined, 42, 'package.tgz', {}]) {
      const tarball = async (): Promise<never> => value as never
      const err = await store.ensurePackage({ integrity: pkg!.integrity, pkgId: pkg!.pkgId, tarball })
        .catch((e: unknown) => e as Error)
      expect(err, String(value)).toMatchObject({ code: 'ERR_CAS_INVALID_ARGUMENT' })
      expect((err as Error).message).toContain('the tarball function must resolve to a Buffer or a stream')
    }
    await expectNothingLeft(store, packageIndexKey(pkg!.integrity, pkg!.pkgId))
    await store.close()
  })

  it('an installer\'s fetcher handing over another package\'s bytes as a Buffer: ERR_CAS_INTEGRITY, no index', async () => {
    const [wanted, other] = makePackages(2, 'fn-lie')
    const store = await openStore(tempDir())
    const tarball = async (): Promise<Buffer> => other!.tgz
    const err = await store.ensurePackage({ integrity: wanted!.integrity, pkgId: wanted!.pkgId, tarball })
      .catch((e: unknown) => e)
    expect(err).toMatchObject({ code: 'ERR_CAS_INTEGRITY', expected: wanted!.integrity, actual: other!.integrity })
    await expectNothingLeft(store, packageIndexKey(wanted!.integrity, wanted!.pkgId))
    await store.close()
  })
})

// Issue 12, test 3 (and the other coded failures): nothing half-written survives any of them.
describe('ensurePackage failures are coded, name the URL, and leave no index', () => {
  it('wrong bytes for the integrity: ERR_CAS_INTEGRITY with expected and actual, no index', async () => {
    const [good, other] = makePackages(2, 'lie')
    const server = await serve([], { 'lie.tgz': other!.tgz })
    const store = await openStore(tempDir())
    const err = await store.ensurePackage({ integrity: good!.integrity, pkgId: good!.pkgId, tarball: server.url('lie.tgz') })
      .catch((e: unknown) => e)
    expect(err).toMatchObject({ code: 'ERR_CAS_INTEGRITY', expected: good!.integrity, actual: other!.integrity })
    await expectNothingLeft(store, packageIndexKey(good!.integrity, good!.pkgId), other!.tgz)
    await store.close()
  })

  it('404: ERR_CAS_FETCH_STATUS naming the URL; a refused connection: ERR_CAS_FETCH_NETWORK', async () => {
    const [pkg] = makePackages(1, 'missing')
    const server = await serve([])
    const store = await openStore(tempDir())
    const url = server.url(pkg!.file)
    const err = await store.ensurePackage({ integrity: pkg!.integrity, pkgId: pkg!.pkgId, tarball: url })
      .catch((e: unknown) => e)
    expect(err).toMatchObject({ code: 'ERR_CAS_FETCH_STATUS', status: 404, url })
    expect((err as Error).message).toContain(url)
    await server.close()
    await expect(store.ensurePackage({ integrity: pkg!.integrity, pkgId: pkg!.pkgId, tarball: url }))
      .rejects.toMatchObject({ code: 'ERR_CAS_FETCH_NETWORK', url })
    await expectNothingLeft(store, packageIndexKey(pkg!.integrity, pkg!.pkgId))
    await store.close()
  })

  it('a server that stops sending mid-tarball: ERR_CAS_FETCH_TIMEOUT; one that drops the connection: ERR_CAS_FETCH_NETWORK', async () => {
    const [pkg] = makePackages(1, 'stall', 400_000)
    const server = await serve([pkg!])
    const store = await openStore(tempDir())
    const url = server.url(pkg!.file)
    server.hold(pkg!.file, 64 * 1024)
    const stalling = { integrity: pkg!.integrity, pkgId: pkg!.pkgId, tarball: url, stallTimeoutMs: 300 }
    await expect(store.ensurePackage(stalling))
      .rejects.toMatchObject({ code: 'ERR_CAS_FETCH_TIMEOUT', url })
    await expectNothingLeft(store, packageIndexKey(pkg!.integrity, pkg!.pkgId))
    server.hold(pkg!.file, 64 * 1024)
    const pending = store.ensurePackage({ integrity: pkg!.integrity, pkgId: pkg!.pkgId, tarball: url })
    await server.reached(pkg!.file)
    await server.close()
    await expect(pending).rejects.toMatchObject({ code: 'ERR_CAS_FETCH_NETWORK', url })
    await expectNothingLeft(store, packageIndexKey(pkg!.integrity, pkg!.pkgId))
    await store.close()
  })

  it.each([
    ['a truncated .tgz', (tgz: Buffer) => tgz.subarray(0, tgz.length - 300)],
    ['something that is not gzip (an HTML error page)', () => Buffer.from('<html><body>Service Unavailable</body></html>\n'.repeat(50))],
  ])('%s served whole: ERR_CAS_BAD_TARBALL, no index', async (_what, body) => {
    const [pkg] = makePackages(1, 'bad', 200_000)
    const served = body(pkg!.tgz)
    const server = await serve([], { 'bad.tgz': served })
    const store = await openStore(tempDir())
    await expect(store.ensurePackage({ integrity: pkg!.integrity, pkgId: pkg!.pkgId, tarball: server.url('bad.tgz') }))
      .rejects.toMatchObject({ code: 'ERR_CAS_BAD_TARBALL' })
    await expectNothingLeft(store, packageIndexKey(pkg!.integrity, pkg!.pkgId))
    await store.close()
  })
})
