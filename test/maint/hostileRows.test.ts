// Maintenance never gives up on the whole store because of one row: every key shape pnpm 11/12 write is read
// and verified, a row nobody can use is reported (and with fix deleted), the rest is repaired, and a row that
// would be unusable is never written in the first place.
import fs from 'node:fs'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { openStore, packageIndexKey, type PackageIndex, type Store } from '../../lib/index.js'
import { encodePackageIndex } from '../../lib/pkgIndex/codec.js'
import { runCas } from '../helpers/cas.js'
import { sriOf } from '../helpers/pnpm.js'
import { insertRawRow } from '../helpers/sqlite.js'
import { tempDir } from '../helpers/tmp.js'

async function indexOf (store: Store, files: Record<string, string>): Promise<PackageIndex> {
  const index: PackageIndex = { algo: 'sha512', files: new Map() }
  for (const [name, body] of Object.entries(files)) {
    const added = await store.ensureFile(Buffer.from(body), { mode: 0o644 })
    index.files.set(name, { digest: added.digest, mode: 0o644, size: added.size, checkedAt: added.checkedAt })
  }
  return index
}

// The key shapes pnpm 11/12 write (storeIndexKey / gitHostedStoreIndexKey in @pnpm/store.index).
const PNPM_KEYS = [
  packageIndexKey(sriOf(Buffer.from('registry')), 'left-pad@1.3.0'),
  packageIndexKey(sriOf(Buffer.from('scoped')), '@scope/pkg@2.0.0-beta.1'),
  packageIndexKey(sriOf(Buffer.from('url')), 'pkg@https://example.com/files/pkg-1.0.0.tgz'),
  packageIndexKey(sriOf(Buffer.from('file')), 'file:../pkg-a/pkg-a-1.0.0.tgz'),
  'github.com/user/repo/0123456789abcdef0123456789abcdef01234567\tbuilt',
  'https://codeload.github.com/user/repo/tar.gz/0123456789abcdef\tnot-built',
]

describe('every key pnpm 11/12 write', () => {
  it.each(PNPM_KEYS)('is written, read back, verified and kept by verify --fix (%s)', async key => {
    const store = await openStore(tempDir())
    const index = await indexOf(store, { 'index.js': key })
    await store.writePackageIndex(key, index)
    expect((await store.readPackageIndex(key))?.files.get('index.js')?.digest).toBe(index.files.get('index.js')!.digest)
    const report = await store.verifyStore({ fix: true })
    expect(report).toMatchObject({ healthy: true, packagesChecked: 1, unreadableIndexes: [], deletedIndexes: [] })
    expect(await store.readPackageIndex(key)).toBeDefined()
    await store.close()
  })
})

describe('a row nobody can use', () => {
  interface Damaged { dir: string, store: Store, good: string, broken: string, corruptPath: string }
  async function damagedStore (): Promise<Damaged> {
    const dir = tempDir()
    const store = await openStore(dir)
    const good = PNPM_KEYS[0]!
    const broken = PNPM_KEYS[1]!
    await store.writePackageIndex(good, await indexOf(store, { 'a.js': 'a' }))
    const brokenIndex = await indexOf(store, { 'b.js': 'b' })
    await store.writePackageIndex(broken, brokenIndex)
    const info = brokenIndex.files.get('b.js')!
    const corruptPath = store.filePathFor(info.digest, info.mode)
    fs.writeFileSync(corruptPath, 'B')
    fs.utimesSync(corruptPath, new Date(info.checkedAt! + 60_000), new Date(info.checkedAt! + 60_000))
    // A key pnpm never writes (no tab), with a readable row; and a row that is not a package index at all.
    insertRawRow(store.root, 'not a key at all', encodePackageIndex(await indexOf(store, { 'kept.js': 'kept by its odd row' })))
    insertRawRow(store.root, 'sha512-zzzz\tgarbage@1.0.0', Buffer.from([0xc1, 0xc1]))
    return { dir, store, good, broken, corruptPath }
  }

  it('is reported, and with --fix deleted, while the rest of the store is repaired', async () => {
    const { dir, store, good, broken, corruptPath } = await damagedStore()
    await store.close()
    const check = await runCas(['verify', '--store', dir, '--json'])
    expect(check.code).toBe(1)
    const before = JSON.parse(check.stdout)
    expect(before.unreadableIndexes.map((u: { key: string }) => u.key).sort()).toEqual(['not a key at all', 'sha512-zzzz\tgarbage@1.0.0'])
    const fix = await runCas(['verify', '--store', dir, '--fix', '--grace', '0', '--json'])
    expect(fix.code).toBe(0)
    const after = JSON.parse(fix.stdout)
    expect(after.unreadableIndexes.every((u: { deleted: boolean }) => u.deleted)).toBe(true)
    expect(after.deletedIndexes).toEqual([broken])
    expect(fs.existsSync(corruptPath)).toBe(false)
    const reopened = await openStore(dir)
    expect(await reopened.readPackageIndex(good)).toBeDefined()
    await reopened.close()
    expect((await runCas(['verify', '--store', dir])).code).toBe(0)
  }, 60_000)

  it('blocks neither cas stat (counted apart) nor cas prune (an odd key\'s content still counts as used)', async () => {
    const { dir, store } = await damagedStore()
    const orphan = await store.ensureFile(Buffer.from('nobody uses me'), { mode: 0o644 })
    const kept = store.filePathFor((await indexOf(store, { k: 'kept by its odd row' })).files.get('k')!.digest, 0o644)
    await store.close()
    const stat = await runCas(['stat', '--store', dir, '--json'])
    expect(stat.code).toBe(0)
    expect(JSON.parse(stat.stdout)).toMatchObject({ packages: 3, unreadableIndexes: 1 })
    // The undecodable row would hide what it references: prune refuses, saying to run verify --fix…
    const refused = await runCas(['prune', '--store', dir, '--grace', '0'])
    expect(refused.code).toBe(2)
    expect(refused.stderr).toMatch(/cas verify --fix/)
    expect((await runCas(['verify', '--store', dir, '--fix', '--grace', '0'])).code).toBe(0)
    // …after which it runs; verify --fix dropped the odd-key row, so its content is now unreferenced too.
    const pruned = await runCas(['prune', '--store', dir, '--grace', '0', '--json'])
    expect(pruned.code).toBe(0)
    expect(fs.existsSync(orphan.filePath)).toBe(false)
    expect(fs.existsSync(kept)).toBe(false)
  }, 60_000)

  it('an odd key does not make prune remove the content its row references', async () => {
    const store = await openStore(tempDir())
    await store.writePackageIndex(PNPM_KEYS[0]!, await indexOf(store, { 'a.js': 'a' }))
    const odd = await indexOf(store, { 'odd.js': 'odd' })
    insertRawRow(store.root, 'odd key', encodePackageIndex(odd))
    const report = await store.pruneStore({ graceMs: 0 })
    expect(report.removed.count).toBe(0)
    expect(fs.existsSync(store.filePathFor(odd.files.get('odd.js')!.digest, 0o644))).toBe(true)
    await store.close()
  })
})

describe('writePackageIndex validates with the reader\'s own rule', () => {
  const digest = 'ab'.repeat(64)
  it.each([
    ['an uppercase digest', { digest: 'AB'.repeat(64) }],
    ['a short digest', { digest: 'ab'.repeat(10) }],
    ['a non-hex digest', { digest: 'zz'.repeat(64) }],
    ['size -1', { size: -1 }],
    ['size NaN', { size: Number.NaN }],
    ['size 2^60', { size: 2 ** 60 }],
    ['a fractional mode', { mode: 420.5 }],
    ['a negative mode', { mode: -1 }],
  ])('refuses %s', async (_what, bad) => {
    const store = await openStore(tempDir())
    const index: PackageIndex = { algo: 'sha512', files: new Map([['a.js', { digest, mode: 0o644, size: 1, ...bad }]]) }
    await expect(store.writePackageIndex(PNPM_KEYS[0]!, index)).rejects.toMatchObject({ code: 'ERR_CAS_INVALID_ARGUMENT' })
    expect(await store.readPackageIndex(PNPM_KEYS[0]!)).toBeUndefined()
    await store.close()
  })

  it.each(['../x', 'a/../../x', '/etc/passwd', 'a\0b', 'C:/x', 'a\\b', ''])('refuses the file name %j', async name => {
    const store = await openStore(tempDir())
    const index: PackageIndex = { algo: 'sha512', files: new Map([[name, { digest, mode: 0o644, size: 1 }]]) }
    await expect(store.writePackageIndex(PNPM_KEYS[0]!, index)).rejects.toMatchObject({ code: 'ERR_CAS_INVALID_ARGUMENT' })
    await store.close()
  })

  it('and the reader rejects such a row written by someone else (one rule on both sides)', async () => {
    const store = await openStore(tempDir())
    const { Packr } = await import('msgpackr')
    const row = new Packr({ useRecords: true, moreTypes: true }).pack({ algo: 'sha512', files: new Map([['../x', { digest, mode: 0o644, size: 1 }]]) })
    insertRawRow(store.root, PNPM_KEYS[0]!, row)
    await expect(store.readPackageIndex(PNPM_KEYS[0]!)).rejects.toMatchObject({ code: 'ERR_CAS_INDEX_CORRUPT' })
    await store.close()
  })
})

describe('a zero-byte index.db next to content', () => {
  it('is reported as a lost index (cas verify exit 1), and left as it is', async () => {
    const dir = tempDir()
    const store = await openStore(dir)
    await store.writePackageIndex(PNPM_KEYS[0]!, await indexOf(store, { 'a.js': 'a' }))
    await store.close()
    const root = path.join(dir, 'v11')
    for (const f of ['index.db-wal', 'index.db-shm']) fs.rmSync(path.join(root, f), { force: true })
    fs.truncateSync(path.join(root, 'index.db'), 0)
    const result = await runCas(['verify', '--store', dir])
    expect(result.code).toBe(1)
    expect(result.stdout).toMatch(/Lost package index: .*index\.db is empty but the store holds content/)
    expect(fs.statSync(path.join(root, 'index.db')).size).toBe(0)
    const reopened = await openStore(dir)
    await expect(reopened.writePackageIndex(PNPM_KEYS[0]!, await indexOf(reopened, { 'b.js': 'b' }))).rejects.toMatchObject({ code: 'ERR_CAS_INDEX_LOST' })
    await reopened.close()
    expect(fs.statSync(path.join(root, 'index.db')).size).toBe(0)
    expect((await runCas(['stat', '--store', dir])).stderr).toMatch(/ERR_CAS_INDEX_LOST/)
  }, 60_000)

  it('an empty index.db in a store without content is simply a new store', async () => {
    const dir = tempDir()
    fs.mkdirSync(path.join(dir, 'v11'), { recursive: true })
    fs.writeFileSync(path.join(dir, 'v11', 'index.db'), '')
    const store = await openStore(dir)
    await store.writePackageIndex(PNPM_KEYS[0]!, await indexOf(store, { 'a.js': 'a' }))
    await store.close()
  })
})

describe('cas verify --jobs', () => {
  it('is capped: a huge value checks the store instead of allocating a task per job', async () => {
    const dir = tempDir()
    const store = await openStore(dir)
    await store.writePackageIndex(PNPM_KEYS[0]!, await indexOf(store, { 'a.js': 'a' }))
    await store.close()
    const result = await runCas(['verify', '--store', dir, '--jobs', '1000000000'])
    expect(result.stderr).toBe('')
    expect(result.code).toBe(0)
  }, 60_000)
})
