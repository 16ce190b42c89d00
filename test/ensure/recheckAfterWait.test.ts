// ensurePackage's second look, under the package's lock: what another holder did while we waited decides whether
// we fetch. The other holder is a second descriptor on the lock file, which excludes us as another process would.
import crypto from 'node:crypto'
import fs from 'node:fs'
import path from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { openStore, packageIndexKey, type Store } from '../../lib/index.js'
import { packageLockFile } from '../../lib/ensure/packageLock.js'
import { withKeyLock } from '../../lib/lock/keyLock.js'
import { signal } from '../helpers/gate.js'
import { makePackages, servePackages, type TestPackage } from '../helpers/packages.js'
import type { PackageServer } from '../helpers/packageServer.js'
import { tempDir } from '../helpers/tmp.js'

const servers: PackageServer[] = []
afterEach(async () => { for (const s of servers.splice(0)) await s.close() })

function asked (pkg: TestPackage, server: PackageServer): { integrity: string, pkgId: string, tarball: string } {
  return { integrity: pkg.integrity, pkgId: pkg.pkgId, tarball: server.url(pkg.file) }
}

async function serve (packages: TestPackage[]): Promise<PackageServer> {
  const server = await servePackages(packages)
  servers.push(server)
  return server
}

/**
 * Holds the package's lock as another process would, starts `ensurePackage` and waits until it is waiting for
 * the lock (its first `onWait` report); runs `whileHeld`, then releases. Returns the call's outcome.
 */
async function ensureWhileHeld (
  store: Store, pkg: TestPackage, server: PackageServer, whileHeld: () => Promise<void>,
): Promise<{ fetched: boolean, index: unknown }> {
  const key = packageIndexKey(pkg.integrity, pkg.pkgId)
  let release!: () => void
  const entered = signal()
  const held = withKeyLock(packageLockFile(store.root, key), key, async () => {
    entered.signal()
    await new Promise<void>(resolve => { release = resolve })
  })
  await entered.signalled
  const waiting = signal()
  const call = store.ensurePackage({
    integrity: pkg.integrity, pkgId: pkg.pkgId, tarball: server.url(pkg.file), onWait: () => { waiting.signal() },
  })
  await waiting.signalled
  await whileHeld()
  release()
  await held
  return await call
}

describe('ensurePackage after waiting for the package lock', () => {
  it('with no index before the wait, one the holder wrote meanwhile is used as written: no request, no file check', async () => {
    const [pkg] = makePackages(1, 'written')
    const server = await serve([pkg!])
    const store = await openStore(tempDir())
    const key = packageIndexKey(pkg!.integrity, pkg!.pkgId)
    const index = await store.addFilesFromTarball(pkg!.tgz)
    // A file the holder just added and checked; had we checked it again, its absence would make us fetch.
    const readme = index.files.get('README.md')!
    fs.rmSync(store.filePathFor(readme.digest, readme.mode))
    const result = await ensureWhileHeld(store, pkg!, server, async () => {
      await store.writePackageIndex(key, { ...index, tarIntegrity: pkg!.integrity })
    })
    expect(result.fetched).toBe(false)
    expect(result.index).toEqual({ ...index, tarIntegrity: pkg!.integrity })
    expect(server.hits(pkg!.file)).toBe(0)
    await store.close()
  })

  it('an index that failed the check before the wait, repaired by the holder meanwhile, is checked again and used', async () => {
    const [pkg] = makePackages(1, 'repaired')
    const server = await serve([pkg!])
    const store = await openStore(tempDir())
    const first = await store.ensurePackage(asked(pkg!, server))
    const data = first.index.files.get('data.bin')!
    fs.rmSync(store.filePathFor(data.digest, data.mode))
    const result = await ensureWhileHeld(store, pkg!, server, async () => {
      await store.addFilesFromTarball(pkg!.tgz) // the holder's repair: the missing file is back
    })
    expect(result.fetched).toBe(false)
    expect(server.hits(pkg!.file)).toBe(1)
    await store.close()
  })

  it('an index that failed the check before the wait and still fails after it is fetched again', async () => {
    const [pkg] = makePackages(1, 'still-bad')
    const server = await serve([pkg!])
    const store = await openStore(tempDir())
    const first = await store.ensurePackage(asked(pkg!, server))
    const data = first.index.files.get('data.bin')!
    fs.rmSync(store.filePathFor(data.digest, data.mode))
    const result = await ensureWhileHeld(store, pkg!, server, async () => {})
    expect(result.fetched).toBe(true)
    expect(server.hits(pkg!.file)).toBe(2)
    expect(fs.existsSync(store.filePathFor(data.digest, data.mode))).toBe(true)
    await store.close()
  })

  it('the lock is <root>/locks/packages/<sha256 of the key>.lock, names its holder while held, and is gone after', async () => {
    const [pkg] = makePackages(1, 'lockfile')
    const server = await serve([pkg!])
    const store = await openStore(tempDir())
    const key = packageIndexKey(pkg!.integrity, pkg!.pkgId)
    const lockFile = path.join(store.root, 'locks', 'packages', crypto.createHash('sha256').update(key).digest('hex') + '.lock')
    server.hold(pkg!.file, 0)
    const pending = store.ensurePackage(asked(pkg!, server))
    await server.reached(pkg!.file) // the download has started: the lock is held
    expect(JSON.parse(fs.readFileSync(lockFile, 'utf8'))).toMatchObject({ pid: process.pid })
    server.release(pkg!.file)
    await expect(pending).resolves.toMatchObject({ fetched: true })
    expect(fs.existsSync(lockFile)).toBe(false)
    await store.close()
  })
})
