import fs from 'node:fs'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { openStore, packageIndexKey, type PackageIndex, type Store } from '../../lib/index.js'
import { sriOf } from '../helpers/pnpm.js'
import { encodePackageIndex } from '../../lib/pkgIndex/codec.js'
import { insertRawRow } from '../helpers/sqlite.js'
import { tempDir } from '../helpers/tmp.js'

const key = (name: string): string => packageIndexKey(sriOf(Buffer.from(name)), `${name}@1.0.0`)

/** A store with three packages; `a` and `b` share README.md. */
async function seeded (): Promise<{ store: Store, indexes: Record<string, PackageIndex> }> {
  const store = await openStore(tempDir())
  const indexes: Record<string, PackageIndex> = {}
  for (const [name, files] of Object.entries({
    a: { 'README.md': 'shared', 'a.js': 'a' },
    b: { 'README.md': 'shared', 'b.js': 'b' },
    c: { 'c.js': 'c' },
  })) {
    const index: PackageIndex = { algo: 'sha512', files: new Map() }
    for (const [file, body] of Object.entries(files)) {
      const added = await store.ensureFile(Buffer.from(body), { mode: 0o644 })
      index.files.set(file, { digest: added.digest, mode: 0o644, size: added.size, checkedAt: added.checkedAt })
    }
    await store.writePackageIndex(key(name), index)
    indexes[name] = index
  }
  return { store, indexes }
}

/**
 * Overwrites a content file with same-size garbage, its mtime a minute past its checkedAt (as a later write would
 * leave it), so the fast path does not trust it. Its ctime is now: young for any grace period above zero.
 */
function corrupt (store: Store, index: PackageIndex, file: string): string {
  const info = index.files.get(file)!
  const target = store.filePathFor(info.digest, info.mode)
  fs.writeFileSync(target, Buffer.alloc(info.size, '!'))
  const later = new Date(info.checkedAt! + 60_000)
  fs.utimesSync(target, later, later)
  return target
}

describe('verifyStore', () => {
  it('reports a healthy store as healthy, checking each shared file once', async () => {
    const { store } = await seeded()
    const report = await store.verifyStore({ full: true })
    expect(report).toMatchObject({
      healthy: true, packagesChecked: 3, filesChecked: 4, problems: [], orphans: { count: 0 },
    })
    await store.close()
  })

  it('without fix: reports a corrupt shared file in every package using it, and removes nothing', async () => {
    const { store, indexes } = await seeded()
    const target = corrupt(store, indexes.a!, 'README.md')
    const report = await store.verifyStore({ graceMs: 0 })
    expect(report.healthy).toBe(false)
    expect(report.problems.map(p => [p.key, p.file, p.problem, p.action])).toEqual([
      [key('a'), 'README.md', 'corrupt', 'none'], [key('b'), 'README.md', 'corrupt', 'none'],
    ].sort())
    expect(report.problems[0]).toMatchObject({ path: target, digest: indexes.a!.files.get('README.md')!.digest })
    expect(fs.existsSync(target)).toBe(true)
    expect(await store.readPackageIndex(key('a'))).toBeDefined()
    await store.close()
  })

  it('with fix: removes the corrupt content and deletes the indexes of the packages that lost it', async () => {
    const { store, indexes } = await seeded()
    const target = corrupt(store, indexes.a!, 'README.md')
    fs.rmSync(store.filePathFor(indexes.c!.files.get('c.js')!.digest, 0o644))
    const report = await store.verifyStore({ fix: true, graceMs: 0 })
    expect(report.healthy).toBe(true)
    expect(report.problems.map(p => [p.key, p.file, p.problem, p.action]).sort()).toEqual([
      [key('a'), 'README.md', 'corrupt', 'removed'], [key('b'), 'README.md', 'corrupt', 'removed'], [key('c'), 'c.js', 'missing', 'none'],
    ].sort())
    expect(report.deletedIndexes.sort()).toEqual([key('a'), key('b'), key('c')].sort())
    expect(fs.existsSync(target)).toBe(false)
    expect(await store.readPackageIndex(key('a'))).toBeUndefined()
    // What is left is healthy; the packages' other files are now unreferenced, for prune.
    const again = await store.verifyStore({ fix: true, graceMs: 0 })
    expect(again).toMatchObject({ healthy: true, problems: [], orphans: { count: 2 } })
    await store.close()
  })

  it('with fix: never removes content changed within the grace period (someone may be writing it in place)', async () => {
    const { store, indexes } = await seeded()
    const target = corrupt(store, indexes.c!, 'c.js')
    const report = await store.verifyStore({ fix: true, graceMs: 60_000 })
    expect(report.problems.map(p => p.action)).toEqual(['kept: younger than grace'])
    expect(report.healthy).toBe(false)
    expect(report.deletedIndexes).toEqual([])
    expect(fs.existsSync(target)).toBe(true)
    await store.close()
  })

  it('reports unreadable indexes, stale temp files and orphans; fix deletes and removes them', async () => {
    const { store } = await seeded()
    fs.writeFileSync(path.join(store.root, 'tmp', 'dead-writer.cas-tmp'), 'half')
    const stray = path.join(store.root, 'files', 'ab', 'not-a-digest-name')
    fs.mkdirSync(path.dirname(stray), { recursive: true })
    fs.writeFileSync(stray, 'x')
    await store.ensureFile(Buffer.from('nobody uses me'), { mode: 0o644 })
    insertRawRow(store.root, key('broken'), Buffer.from([0xc1]))
    const report = await store.verifyStore({ graceMs: 0 })
    expect(report.unreadableIndexes).toEqual([{ key: key('broken'), error: expect.stringContaining('index.db'), deleted: false }])
    expect(report.staleTemps.map(t => [path.basename(t.path), t.kind, t.removed]).sort()).toEqual([['dead-writer.cas-tmp', 'temp-file', false], ['not-a-digest-name', 'stray', false]])
    expect(report.orphans).toEqual({ count: 1, bytes: 14 })
    expect(report.healthy).toBe(false)
    const fixed = await store.verifyStore({ fix: true, graceMs: 0 })
    expect(fixed.healthy).toBe(true)
    expect(fixed.unreadableIndexes[0]!.deleted).toBe(true)
    expect(fixed.staleTemps.every(t => t.removed)).toBe(true)
    expect(fs.existsSync(stray)).toBe(false)
    await store.close()
  })

  it('stops taking packages when its signal is aborted, and says so', async () => {
    const { store } = await seeded()
    const controller = new AbortController()
    const report = await store.verifyStore({ jobs: 1, signal: controller.signal, onProgress: () => controller.abort() })
    expect(report).toMatchObject({ interrupted: true, packagesChecked: 1 })
    await store.close()
  })
})

describe('verifyStore with fix acts only on what it has just seen', () => {
  it('looks again at a missing file before repairing: a writer put it back meanwhile, the index stays', async () => {
    const { store: seeding, indexes } = await seeded()
    const root = seeding.root
    await seeding.close()
    const cInfo = indexes.c!.files.get('c.js')!
    const cPath = path.join(root, 'files', cInfo.digest.slice(0, 2), cInfo.digest.slice(2))
    fs.rmSync(cPath)
    const writer = await openStore(root)
    let putBack = 0
    const store = await openStore(root, {
      _hooks: {
        'verify:missing': async ({ path: file }) => {
          expect(file).toBe(cPath)
          await writer.ensureFile(Buffer.from('c'), { mode: 0o644 }) // an install restores the file
          putBack++
        },
      },
    })
    const report = await store.verifyStore({ fix: true, graceMs: 0 })
    expect(putBack).toBe(1)
    expect(report).toMatchObject({ healthy: true, problems: [], deletedIndexes: [], supersededIndexes: [] })
    expect(await store.readPackageIndex(key('c'))).toBeDefined()
    await store.close()
    await writer.close()
  })

  it('never deletes an index an install rewrote after the scan read it (the revision check): superseded', async () => {
    const { store: seeding, indexes } = await seeded()
    const root = seeding.root
    const target = corrupt(seeding, indexes.c!, 'c.js')
    await seeding.close()
    const installer = await openStore(root)
    // The install re-adds the package: a new index (another checkedAt), written while verify is proving c.js wrong.
    const renewed: PackageIndex = { algo: 'sha512', files: new Map([['c.js', { ...indexes.c!.files.get('c.js')!, checkedAt: 1 }]]) }
    const store = await openStore(root, {
      _hooks: { 'verifier:provenWrong': async () => { await installer.writePackageIndex(key('c'), renewed) } },
    })
    const report = await store.verifyStore({ fix: true, graceMs: 0 })
    expect(report.problems.map(p => [p.key, p.file, p.action])).toEqual([[key('c'), 'c.js', 'removed']])
    expect(report).toMatchObject({ deletedIndexes: [], supersededIndexes: [key('c')], healthy: true })
    expect(fs.existsSync(target)).toBe(false)
    expect((await store.readPackageIndex(key('c')))?.files.get('c.js')?.checkedAt).toBe(1)
    await store.close()
    await installer.close()
  })

  it('the same for a missing file: the index rewritten before the repair is left alone', async () => {
    const { store: seeding, indexes } = await seeded()
    const root = seeding.root
    await seeding.close()
    const cInfo = indexes.c!.files.get('c.js')!
    fs.rmSync(path.join(root, 'files', cInfo.digest.slice(0, 2), cInfo.digest.slice(2)))
    const installer = await openStore(root)
    const renewed: PackageIndex = { algo: 'sha512', files: new Map([['c.js', { ...cInfo, checkedAt: 1 }]]) }
    const store = await openStore(root, {
      _hooks: { 'verify:missing': async () => { await installer.writePackageIndex(key('c'), renewed) } },
    })
    const report = await store.verifyStore({ fix: true, graceMs: 0 })
    expect(report.problems.map(p => [p.key, p.file, p.problem])).toEqual([[key('c'), 'c.js', 'missing']])
    expect(report).toMatchObject({ deletedIndexes: [], supersededIndexes: [key('c')] })
    expect((await store.readPackageIndex(key('c')))?.files.get('c.js')?.checkedAt).toBe(1)
    await store.close()
    await installer.close()
  })
})

describe('verifyStore: reporting and options', () => {
  it('problems come sorted by package key, then file name', async () => {
    const { store, indexes } = await seeded()
    for (const [pkg, file] of [['b', 'b.js'], ['a', 'a.js'], ['b', 'README.md']] as const) {
      const info = indexes[pkg]!.files.get(file)!
      fs.rmSync(store.filePathFor(info.digest, info.mode), { force: true })
    }
    const report = await store.verifyStore({ jobs: 3 })
    const expected = [[key('a'), 'README.md'], [key('a'), 'a.js'], [key('b'), 'README.md'], [key('b'), 'b.js']]
      .sort((x, y) => x[0]! < y[0]! ? -1 : x[0]! > y[0]! ? 1 : x[1]! < y[1]! ? -1 : 1)
    expect(report.problems.map(p => [p.key, p.file])).toEqual(expected)
    await store.close()
  })

  it('progress: packages done (unreadable ones included) out of the total, and files checked', async () => {
    const { store } = await seeded()
    insertRawRow(store.root, key('broken'), Buffer.from([0xc1]))
    const seen: Array<{ packagesDone: number, packagesTotal: number | undefined, filesChecked: number }> = []
    await store.verifyStore({ jobs: 1, onProgress: p => seen.push({ ...p }) })
    // Progress comes per file too (the bar counts files): packagesDone never goes back, and steps through each
    // package, the unreadable one included.
    const done = seen.map(p => p.packagesDone)
    expect(done.every((n, i) => i === 0 || n >= done[i - 1]!)).toBe(true)
    expect([...new Set(done)].filter(n => n > 0)).toEqual([1, 2, 3, 4])
    expect(seen.every(p => p.packagesTotal === 4)).toBe(true)
    expect(seen.at(-1)!.filesChecked).toBe(4)
    await store.close()
  })

  it('the default grace period (10 minutes) keeps a just-corrupted file; full reads files the fast path trusts', async () => {
    const { store, indexes } = await seeded()
    const info = indexes.c!.files.get('c.js')!
    const target = store.filePathFor(info.digest, info.mode)
    const mtime = fs.statSync(target).mtime
    fs.writeFileSync(target, '!') // same size, mtime put back: only a read can tell
    fs.utimesSync(target, mtime, mtime)
    expect(await store.verifyStore({ fix: true })).toMatchObject({ problems: [], healthy: true })
    const full = await store.verifyStore({ fix: true, full: true })
    expect(full).toMatchObject({ full: true, healthy: false, deletedIndexes: [] })
    expect(full.problems.map(p => [p.file, p.action])).toEqual([['c.js', 'kept: younger than grace']])
    expect(fs.existsSync(target)).toBe(true)
    await store.close()
  })

  it('strays in files/: only files older than the grace period are reported', async () => {
    const { store } = await seeded()
    const stray = path.join(store.root, 'files', 'ab', 'not-a-digest-name')
    fs.mkdirSync(path.join(store.root, 'files', 'ab', 'a-stray-folder'), { recursive: true })
    fs.writeFileSync(stray, 'x')
    expect((await store.verifyStore({ graceMs: 60_000 })).staleTemps).toEqual([])
    expect((await store.verifyStore({ graceMs: 0 })).staleTemps.map(t => [path.basename(t.path), t.kind])).toEqual([['not-a-digest-name', 'stray']])
    await store.close()
  })

  it('an index whose sideEffects cannot be understood is reported, and deleted by fix', async () => {
    const { store } = await seeded()
    const odd = { algo: 'sha512' as const, files: new Map(), sideEffects: 'not a map' as never }
    await store.writePackageIndex(key('odd'), odd)
    const report = await store.verifyStore({ graceMs: 0 })
    expect(report.unreadableIndexes).toEqual([{ key: key('odd'), error: 'cannot be understood: its sideEffects is not a map', deleted: false }])
    const fixed = await store.verifyStore({ fix: true, graceMs: 0 })
    expect(fixed.unreadableIndexes).toEqual([{ key: key('odd'), error: expect.any(String), deleted: true }])
    expect(await store.readPackageIndex(key('odd'))).toBeUndefined()
    await store.close()
  })
})

describe('verifyStore: its phases and what each reports', () => {
  it('a lost index.db (empty next to content): reports it, checks and removes nothing', async () => {
    const { store } = await seeded()
    const root = store.root
    await store.close()
    for (const f of ['index.db-wal', 'index.db-shm']) fs.rmSync(path.join(root, f), { force: true })
    fs.truncateSync(path.join(root, 'index.db'), 0)
    const stale = path.join(root, 'tmp', 'dead.cas-tmp')
    fs.writeFileSync(stale, 'x')
    const reopened = await openStore(root, { _now: () => Date.now() + 120_000 })
    const report = await reopened.verifyStore({ fix: true, graceMs: 0 })
    expect(report).toMatchObject({ indexLost: true, healthy: false, fix: true, packagesChecked: 0 })
    expect(report).toMatchObject({ filesChecked: 0, staleTemps: [], orphans: { count: 0 } })
    expect(fs.existsSync(stale)).toBe(true)
    await reopened.close()
  })

  it('a job\'s failure is what the scan rejects with, once every job has stopped', async () => {
    const { store } = await seeded()
    const boom = new Error('the progress display broke')
    await expect(store.verifyStore({ jobs: 2, onProgress: () => { throw boom } })).rejects.toBe(boom)
    await store.close()
  })

  it('an interrupted scan skips the sweeps: it cannot call unreferenced what it did not read', async () => {
    const { store } = await seeded()
    await store.ensureFile(Buffer.from('nobody uses me'), { mode: 0o644 })
    const stale = path.join(store.root, 'tmp', 'dead.cas-tmp')
    fs.writeFileSync(stale, 'x')
    const aborted = new AbortController()
    aborted.abort()
    const report = await store.verifyStore({ fix: true, graceMs: 0, signal: aborted.signal })
    expect(report).toMatchObject({
      interrupted: true, packagesChecked: 0, orphans: { count: 0, bytes: 0 }, staleTemps: [],
    })
    expect(fs.existsSync(stale)).toBe(true)
    await store.close()
  })

  it('says it was interrupted even when files/ holds nothing to sweep', async () => {
    const { store, indexes } = await seeded()
    for (const index of Object.values(indexes)) {
      for (const info of index.files.values()) fs.rmSync(store.filePathFor(info.digest, info.mode), { force: true })
    }
    const controller = new AbortController()
    const report = await store.verifyStore({ jobs: 1, signal: controller.signal, onProgress: () => controller.abort() })
    expect(report).toMatchObject({ interrupted: true, packagesChecked: 1 })
    await store.close()
  })

  it('an abort during the content sweep stops it there, and the temp sweep is skipped', async () => {
    const controller = new AbortController()
    let verifying = false
    // The sweep reads the clock to judge a stray's age: that is where this test's user presses Ctrl-C.
    const now = (): number => {
      if (verifying) controller.abort()
      return Date.now() + 120_000
    }
    const store = await openStore(tempDir(), { _now: now })
    await store.ensureFile(Buffer.from('nobody uses me'), { mode: 0o644 })
    const stray = path.join(store.root, 'files', '00', '0-stray') // walked first: bucket 00, then '-' < any hex
    fs.mkdirSync(path.dirname(stray), { recursive: true })
    fs.writeFileSync(stray, 'x')
    fs.writeFileSync(path.join(store.root, 'tmp', 'dead.cas-tmp'), 'x')
    verifying = true
    const report = await store.verifyStore({ graceMs: 0, signal: controller.signal })
    expect(report).toMatchObject({ interrupted: true, orphans: { count: 0 } })
    expect(report.staleTemps.map(t => t.kind)).toEqual(['stray'])
    await store.close()
  })

  it('problems are sorted by key, then file, whatever order the packages were checked in', async () => {
    const store = await openStore(tempDir())
    const files = new Map<string, { digest: string, mode: number, size: number }>()
    for (const name of ['z.js', 'm.js', 'a.js']) {
      const added = await store.ensureFile(Buffer.from(name), { mode: 0o644 })
      files.set(name, { digest: added.digest, mode: 0o644, size: added.size })
      fs.rmSync(added.filePath)
    }
    const keys = ['q', 'b', 'k'].map(key)
    for (const k of keys) await store.writePackageIndex(k, { algo: 'sha512', files })
    const report = await store.verifyStore({ jobs: 3 })
    const expected = [...keys].sort().flatMap(k => ['a.js', 'm.js', 'z.js'].map(f => [k, f]))
    expect(report.problems.map(p => [p.key, p.file])).toEqual(expected)
    await store.close()
  })

  it('report fields: full false unless asked, a missing file is not trusted, and carries no corrupt-file facts', async () => {
    const { store, indexes } = await seeded()
    const info = indexes.c!.files.get('c.js')!
    fs.rmSync(store.filePathFor(info.digest, info.mode))
    const report = await store.verifyStore()
    expect(report).toMatchObject({ full: false, fix: false, filesChecked: 4, filesTrusted: 3 })
    expect(Object.keys(report.problems[0]!).sort()).toEqual(['action', 'digest', 'file', 'key', 'path', 'problem'])
    await store.close()
  })

  it('jobs below 1 still checks the store (one job)', async () => {
    const { store } = await seeded()
    expect(await store.verifyStore({ jobs: 0 })).toMatchObject({ packagesChecked: 3, healthy: true })
    expect(await store.verifyStore({ jobs: -5 })).toMatchObject({ packagesChecked: 3, healthy: true })
    await store.close()
  })

  it('a row under a key pnpm never writes: reported as unreadable, with why', async () => {
    const { store } = await seeded()
    const added = await store.ensureFile(Buffer.from('kept by its odd row'), { mode: 0o644 })
    const odd: PackageIndex = { algo: 'sha512', files: new Map([['k.js', { digest: added.digest, mode: 0o644, size: added.size }]]) }
    insertRawRow(store.root, 'not a key at all', encodePackageIndex(odd))
    const report = await store.verifyStore({ graceMs: 0 })
    expect(report.unreadableIndexes).toEqual([{ key: 'not a key at all', error: expect.any(String), deleted: false }])
    expect(report.unreadableIndexes[0]!.error).not.toBe('unreadable')
    expect(report).toMatchObject({ packagesChecked: 3, healthy: false })
    await store.close()
  })
})
