// ensurePackage with the package already indexed: when the stored index is trusted (and when it is not), the
// `checkedAt` renewal it writes back, and pnpm 10 (v10) stores, whose indexes are read but never written.
import fs from 'node:fs'
import path from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { openStore, packageIndexKey, v10IndexFile, type Store } from '../../lib/index.js'
import type { PackageIndex } from '../../lib/types.js'
import { makePackages, servePackages, type TestPackage } from '../helpers/packages.js'
import type { PackageServer } from '../helpers/packageServer.js'
import { tempDir } from '../helpers/tmp.js'

const servers: PackageServer[] = []
afterEach(async () => { for (const s of servers.splice(0)) await s.close() })

async function serve (packages: TestPackage[]): Promise<PackageServer> {
  const server = await servePackages(packages)
  servers.push(server)
  return server
}

function asked (pkg: TestPackage, server: PackageServer): { integrity: string, pkgId: string, tarball: string } {
  return { integrity: pkg.integrity, pkgId: pkg.pkgId, tarball: server.url(pkg.file) }
}

/** Removes the content file of `name` from the store (a user cleaning up, a broken disk). */
function removeContentOf (store: Store, index: PackageIndex, name: string): void {
  const info = index.files.get(name)!
  fs.rmSync(store.filePathFor(info.digest, info.mode))
}

describe('ensurePackage with the package indexed', () => {
  it('by default checks the files an index names: one removed, the package is fetched again', async () => {
    const [pkg] = makePackages(1, 'checked')
    const server = await serve([pkg!])
    const store = await openStore(tempDir())
    const first = await store.ensurePackage(asked(pkg!, server))
    removeContentOf(store, first.index, 'data.bin')
    const again = await store.ensurePackage(asked(pkg!, server))
    expect(again.fetched).toBe(true)
    expect(server.hits(pkg!.file)).toBe(2)
    const info = again.index.files.get('data.bin')!
    expect(fs.existsSync(store.filePathFor(info.digest, info.mode))).toBe(true)
    await store.close()
  })

  it('with verify: false the index is returned as stored, its files unchecked, with no request', async () => {
    const [pkg] = makePackages(1, 'unchecked')
    const server = await serve([pkg!])
    const store = await openStore(tempDir())
    const first = await store.ensurePackage(asked(pkg!, server))
    removeContentOf(store, first.index, 'data.bin')
    const again = await store.ensurePackage({ ...asked(pkg!, server), verify: false })
    expect(again).toEqual({ ...first, fetched: false })
    expect(server.hits(pkg!.file)).toBe(1)
    await store.close()
  })

  it('verify: true (said explicitly) checks as the default does', async () => {
    const [pkg] = makePackages(1, 'explicit')
    const server = await serve([pkg!])
    const store = await openStore(tempDir())
    const first = await store.ensurePackage(asked(pkg!, server))
    removeContentOf(store, first.index, 'cli.js')
    const again = await store.ensurePackage({ ...asked(pkg!, server), verify: true })
    expect(again.fetched).toBe(true)
    await store.close()
  })

  it('files re-hashed by the check (stale checkedAt) get a renewed checkedAt, written back to the index', async () => {
    const [pkg] = makePackages(1, 'renew')
    const server = await serve([pkg!])
    const store = await openStore(tempDir())
    const { key, index } = await store.ensurePackage(asked(pkg!, server))
    const stale = new Map([...index.files].map(([name, info]) => [name, { ...info, checkedAt: 1 }]))
    await store.writePackageIndex(key, { ...index, files: stale })
    const again = await store.ensurePackage(asked(pkg!, server))
    expect(again.fetched).toBe(false)
    const stored = await store.readPackageIndex(key)
    for (const [name, info] of stored!.files) {
      expect(info.checkedAt, name).toBeGreaterThan(1)
      expect(info.checkedAt).toBe(again.index.files.get(name)!.checkedAt)
    }
    expect(server.hits(pkg!.file)).toBe(1)
    await store.close()
  })
})

/** A pnpm 10 store holding `pkg`, indexed as pnpm 10 does (a JSON file), every `checkedAt` set to `checkedAt`. */
async function v10StoreWith (pkg: TestPackage, checkedAt?: number): Promise<Store> {
  const root = path.join(tempDir(), 'store', 'v10')
  const store = await openStore(root)
  const index = await store.addFilesFromTarball(pkg.tgz)
  const files: Record<string, unknown> = {}
  for (const [name, info] of index.files) {
    const integrity = 'sha512-' + Buffer.from(info.digest, 'hex').toString('base64')
    files[name] = { checkedAt: checkedAt ?? info.checkedAt, integrity, mode: info.mode, size: info.size }
  }
  const file = path.join(root, v10IndexFile(pkg.integrity, pkg.pkgId))
  fs.mkdirSync(path.dirname(file), { recursive: true })
  fs.writeFileSync(file, JSON.stringify({ name: pkg.pkgId.split('@')[0], version: '1.0.0', files }))
  return store
}

describe('ensurePackage in a pnpm 10 (v10) store', () => {
  it('returns a package the store indexes, and refuses one it lacks with ERR_CAS_INDEX_READ_ONLY before any request', async () => {
    const [stored, missing] = makePackages(2, 'v10')
    const server = await serve([stored!, missing!])
    const v10 = await v10StoreWith(stored!)
    expect(v10.format).toBe('v10')
    const found = await v10.ensurePackage(asked(stored!, server))
    expect(found).toMatchObject({ fetched: false, key: packageIndexKey(stored!.integrity, stored!.pkgId) })
    expect([...found.index.files.keys()].sort()).toEqual(['README.md', 'cli.js', 'data.bin', 'package.json'])
    await expect(v10.ensurePackage(asked(missing!, server))).rejects.toMatchObject({ code: 'ERR_CAS_INDEX_READ_ONLY' })
    expect(server.hits(missing!.file)).toBe(0)
    await v10.close()
  })

  it('a v10 index whose files had to be re-hashed is used as it is, never written back (v10 is read-only)', async () => {
    const [pkg] = makePackages(1, 'v10-stale')
    const server = await serve([pkg!])
    const v10 = await v10StoreWith(pkg!, 1)
    const file = path.join(v10.root, v10IndexFile(pkg!.integrity, pkg!.pkgId))
    const before = fs.readFileSync(file, 'utf8')
    const found = await v10.ensurePackage(asked(pkg!, server))
    expect(found.fetched).toBe(false)
    expect(found.index.files.get('data.bin')!.checkedAt).toBeGreaterThan(1) // re-hashed: renewed in memory
    expect(fs.readFileSync(file, 'utf8')).toBe(before)
    expect(server.hits(pkg!.file)).toBe(0)
    await v10.close()
  })
})
