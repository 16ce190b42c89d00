import fs from 'node:fs'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { openStore, packageIndexKey, parsePackageIndexKey, type PackageIndex } from '../../lib/index.js'
import { runFixture } from '../helpers/child.js'
import { sriOf } from '../helpers/pnpm.js'
import { insertRawRow, rawIndexDb } from '../helpers/sqlite.js'
import { listFiles, tempDir } from '../helpers/tmp.js'

const keyOf = (n: number): string => packageIndexKey(sriOf(Buffer.from(`tarball ${n}`)), `pkg-${n}@1.0.${n}`)

async function storeWithOnePackage (dir: string): Promise<{ index: PackageIndex }> {
  const store = await openStore(dir)
  const index = await store.addFilesFromDir(await packageDir(dir))
  await store.writePackageIndex(keyOf(1), index)
  await store.close()
  return { index }
}

async function packageDir (parent: string): Promise<string> {
  const dir = path.join(parent, 'pkg')
  fs.mkdirSync(path.join(dir, 'bin'), { recursive: true })
  fs.writeFileSync(path.join(dir, 'package.json'), JSON.stringify({
    name: 'pkg', version: '1.0.0', bin: { pkg: 'bin/pkg.js' }, description: 'left out of the index', scripts: { install: 'node-gyp rebuild', test: 'x' },
  }))
  fs.writeFileSync(path.join(dir, 'bin', 'pkg.js'), '#!/usr/bin/env node\n', { mode: 0o755 })
  fs.writeFileSync(path.join(dir, 'index.js'), 'module.exports = 1\n')
  return dir
}

describe('index.db (v11 package index)', () => {
  it('writes and reads back an index, with the manifest subset and requiresBuild an add verb filled in', async () => {
    const dir = tempDir()
    const { index } = await storeWithOnePackage(dir)
    expect(index.manifest).toEqual({ name: 'pkg', version: '1.0.0', bin: { pkg: 'bin/pkg.js' }, scripts: { install: 'node-gyp rebuild', test: 'x' } })
    expect(index.requiresBuild).toBe(true)
    const store = await openStore(dir)
    const read = await store.readPackageIndex(keyOf(1))
    expect(read).toEqual(index)
    expect(read!.files).toBeInstanceOf(Map)
    expect(await store.readPackageIndex(keyOf(2))).toBeUndefined()
    await store.close()
    const db = rawIndexDb(store.root, { readonly: true })
    expect(db.get<{ journal_mode: string }>('PRAGMA journal_mode').journal_mode).toBe('wal')
    db.close()
  })

  it('commits a burst of writes from one tick as one transaction, and lists them a page at a time', async () => {
    const dir = tempDir()
    const store = await openStore(dir)
    const index: PackageIndex = { algo: 'sha512', files: new Map([['a', { digest: 'a'.repeat(128), mode: 0o644, size: 1, checkedAt: 5 }]]) }
    const db = rawIndexDb(store.root, { readonly: true })
    const dataVersion = (): number => db.get<{ data_version: number }>('PRAGMA data_version').data_version
    const before = dataVersion()
    await Promise.all(Array.from({ length: 600 }, async (_, n) => { await store.writePackageIndex(keyOf(n), index) }))
    // data_version moves once per commit seen from another connection: one batch, one commit.
    expect(dataVersion()).toBe(before + 1)
    db.close()
    const keys: string[] = []
    for await (const entry of store.listPackageIndexes()) {
      expect(entry.index!.files.get('a')!.checkedAt).toBe(5)
      keys.push(entry.key)
    }
    expect(keys).toHaveLength(600)
    expect(new Set(keys)).toEqual(new Set(Array.from({ length: 600 }, (_, n) => keyOf(n))))
    await store.close()
  })

  it('deletes an index and the pnpm 12 aliases that point at it', async () => {
    const dir = tempDir()
    const { index } = await storeWithOnePackage(dir)
    const alias = packageIndexKey(sriOf(Buffer.from('the plain tar')), 'pkg-1@1.0.1')
    const db = rawIndexDb(path.join(dir, 'v11'))
    db.run('INSERT INTO package_index_alias (key, target) VALUES (?, ?)', alias, keyOf(1))
    db.close()
    const store = await openStore(dir)
    expect(await store.readPackageIndex(alias)).toEqual(index)
    expect(await store.deletePackageIndex(keyOf(1))).toBe(true)
    expect(await store.deletePackageIndex(keyOf(1))).toBe(false)
    expect(await store.readPackageIndex(alias)).toBeUndefined()
    await store.close()
  })

  it('deletes with a revision only while the index is still the one listed (a repair never deletes a renewed row)', async () => {
    const dir = tempDir()
    const { index } = await storeWithOnePackage(dir)
    const store = await openStore(dir)
    const listed = []
    for await (const entry of store.listPackageIndexes()) listed.push(entry)
    const { revision } = listed[0]!
    // An install renews the row between the listing and the repair.
    await store.writePackageIndex(keyOf(1), { ...index, requiresBuild: false })
    expect(await store.deletePackageIndex(keyOf(1), revision)).toBe(false)
    expect(await store.readPackageIndex(keyOf(1))).toMatchObject({ requiresBuild: false })
    const relisted = []
    for await (const entry of store.listPackageIndexes()) relisted.push(entry)
    expect(await store.deletePackageIndex(keyOf(1), relisted[0]!.revision)).toBe(true)
    await store.close()
  })

  it('rejects keys that are not "<integrity>\\t<pkgId>"', async () => {
    const store = await openStore(tempDir())
    for (const bad of ['pkg@1.0.0', 'sha512-abc', 'sha512-abc\tpkg\tx', '']) {
      await expect(store.readPackageIndex(bad)).rejects.toMatchObject({ code: 'ERR_CAS_INVALID_ARGUMENT' })
    }
    expect(parsePackageIndexKey(keyOf(3))).toEqual({ integrity: sriOf(Buffer.from('tarball 3')), pkgId: 'pkg-3@1.0.3' })
    await store.close()
  })

  it('a store whose index.db is not a database fails to open with ERR_CAS_INDEX_CORRUPT, content untouched', async () => {
    const dir = tempDir()
    await storeWithOnePackage(dir)
    const root = path.join(dir, 'v11')
    for (const f of ['index.db-wal', 'index.db-shm']) fs.rmSync(path.join(root, f), { force: true })
    fs.writeFileSync(path.join(root, 'index.db'), Buffer.alloc(8192, 'garbage '))
    const before = listFiles(path.join(root, 'files')).map(f => [f, fs.readFileSync(path.join(root, 'files', f), 'hex')])
    const err = await openStore(dir).catch((e: unknown) => e) as { code: string, message: string, path: string }
    expect(err.code).toBe('ERR_CAS_INDEX_CORRUPT')
    expect(err.path).toBe(path.join(root, 'index.db'))
    expect(err.message).toContain(path.join(root, 'index.db'))
    expect(listFiles(path.join(root, 'files')).map(f => [f, fs.readFileSync(path.join(root, 'files', f), 'hex')])).toEqual(before)
  })

  it('a row that is not a package index is reported by itself; the listing goes on', async () => {
    const dir = tempDir()
    const { index } = await storeWithOnePackage(dir)
    insertRawRow(path.join(dir, 'v11'), keyOf(0), Buffer.from([0xc1, 0xc1]))
    const store = await openStore(dir)
    const seen = []
    for await (const entry of store.listPackageIndexes()) seen.push(entry)
    expect(seen.map(e => [e.key, e.error?.code, e.index?.files.size])).toEqual([
      [keyOf(0), 'ERR_CAS_INDEX_CORRUPT', undefined],
      [keyOf(1), undefined, index.files.size],
    ].sort((a, b) => String(a[0]) < String(b[0]) ? -1 : 1))
    await expect(store.readPackageIndex(keyOf(0))).rejects.toMatchObject({ code: 'ERR_CAS_INDEX_CORRUPT' })
    await store.close()
  })

  it('opening waits while another process holds index.db locked, then succeeds', async () => {
    const dir = tempDir()
    const root = path.join(dir, 'v11')
    fs.mkdirSync(root, { recursive: true })
    const holder = runFixture('holdIndexDb.ts', [path.join(root, 'index.db'), 'rollback'])
    await holder.line(l => l === 'LOCKED')
    const events: string[] = []
    const opening = openStore(dir).then(store => { events.push('opened'); return store })
    // Give the opener time to hit the lock; the lock holder decides when it ends, not a timer in the opener.
    await new Promise(resolve => setTimeout(resolve, 300))
    events.push('releasing')
    holder.send('go')
    await holder.line(l => l === 'RELEASED')
    const store = await opening
    expect(events).toEqual(['releasing', 'opened'])
    await store.writePackageIndex(keyOf(1), { algo: 'sha512', files: new Map() })
    expect(await store.readPackageIndex(keyOf(1))).toMatchObject({ algo: 'sha512' })
    await store.close()
  })

  it('a write waits for another process\'s transaction, then commits; past the busy timeout it fails ERR_CAS_INDEX_BUSY', async () => {
    const dir = tempDir()
    await storeWithOnePackage(dir)
    const holder = runFixture('holdIndexDb.ts', [path.join(dir, 'v11', 'index.db'), 'wal', keyOf(7)])
    await holder.line(l => l === 'LOCKED')
    const impatient = await openStore(dir, { indexBusyTimeoutMs: 200 })
    await expect(impatient.writePackageIndex(keyOf(2), { algo: 'sha512', files: new Map() }))
      .rejects.toMatchObject({ code: 'ERR_CAS_INDEX_BUSY' })
    // Readers are never blocked by a writer in WAL mode, and never see its uncommitted row.
    expect(await impatient.readPackageIndex(keyOf(1))).toBeDefined()
    expect(await impatient.readPackageIndex(keyOf(7))).toBeUndefined()
    await impatient.close()

    const store = await openStore(dir)
    let written = false
    const writing = store.writePackageIndex(keyOf(3), { algo: 'sha512', files: new Map() }).then(() => { written = true })
    await new Promise(resolve => setTimeout(resolve, 300))
    expect(written).toBe(false)
    holder.send('go')
    await holder.line(l => l === 'RELEASED')
    await writing
    expect(await store.readPackageIndex(keyOf(3))).toBeDefined()
    await store.close()
  })

  it('a process killed mid-transaction leaves no half-written row', async () => {
    const dir = tempDir()
    await storeWithOnePackage(dir)
    const holder = runFixture('holdIndexDb.ts', [path.join(dir, 'v11', 'index.db'), 'wal', keyOf(9)])
    await holder.line(l => l === 'LOCKED')
    holder.proc.kill('SIGKILL')
    await holder.exited
    const store = await openStore(dir)
    expect(await store.readPackageIndex(keyOf(9))).toBeUndefined()
    const keys = []
    for await (const entry of store.listPackageIndexes()) keys.push(entry.key)
    expect(keys).toEqual([keyOf(1)])
    await store.writePackageIndex(keyOf(9), { algo: 'sha512', files: new Map() })
    expect(await store.readPackageIndex(keyOf(9))).toBeDefined()
    await store.close()
  })
})
