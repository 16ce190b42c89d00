import fs from 'node:fs'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { openStore, packageIndexKey, type FileInfo, type Store } from '../../lib/index.js'
import { sriOf } from '../helpers/pnpm.js'
import { insertRawRow } from '../helpers/sqlite.js'
import { gate } from '../helpers/gate.js'
import { tempDir } from '../helpers/tmp.js'

const GRACE = { graceMs: 60_000 }
/** A store clock two minutes ahead: everything written now is past the grace period. */
const later = (): number => Date.now() + 120_000

async function storeWithOrphan (now = later): Promise<{ store: Store, kept: string, orphan: string }> {
  const store = await openStore(tempDir(), { _now: now })
  const used = await store.ensureFile(Buffer.from('used'), { mode: 0o755 })
  await store.writePackageIndex(packageIndexKey(sriOf(Buffer.from('p')), 'p@1.0.0'), {
    algo: 'sha512', files: new Map([['bin.js', { digest: used.digest, mode: 0o755, size: used.size, checkedAt: used.checkedAt }]]),
  })
  const orphan = await store.ensureFile(Buffer.from('unused'), { mode: 0o644 })
  // Same bytes as the used file, but not executable: a different content path, and nobody references it.
  const notExec = await store.ensureFile(Buffer.from('used'), { mode: 0o644 })
  return { store, kept: used.filePath, orphan: orphan.filePath + '|' + notExec.filePath }
}

describe('pruneStore', () => {
  it('removes unreferenced content past the grace period, keeps referenced content', async () => {
    const { store, kept, orphan } = await storeWithOrphan()
    fs.writeFileSync(path.join(store.root, 'tmp', 'dead.cas-tmp'), 'x')
    const report = await store.pruneStore(GRACE)
    expect(report).toMatchObject({ removed: { count: 2, bytes: 10 }, referenced: 1, keptYoung: 0, tempsRemoved: 1 })
    for (const f of orphan.split('|')) expect(fs.existsSync(f)).toBe(false)
    expect(fs.existsSync(kept)).toBe(true)
    await store.close()
  })

  it('keeps everything changed within the grace period; a dry run removes nothing', async () => {
    let now = Date.now
    const { store, orphan } = await storeWithOrphan(() => now())
    expect(await store.pruneStore(GRACE)).toMatchObject({ removed: { count: 0 }, keptYoung: 2 })
    now = later
    expect(await store.pruneStore({ ...GRACE, dryRun: true })).toMatchObject({ dryRun: true, removed: { count: 2 } })
    for (const f of orphan.split('|')) expect(fs.existsSync(f)).toBe(true)
    await store.close()
  })

  it('refuses to remove anything while an index is unreadable (its files would look unused)', async () => {
    const { store, orphan } = await storeWithOrphan()
    insertRawRow(store.root, packageIndexKey(sriOf(Buffer.from('q')), 'q@1.0.0'), Buffer.from([0xc1]))
    await expect(store.pruneStore(GRACE)).rejects.toMatchObject({ code: 'ERR_CAS_INDEX_CORRUPT' })
    for (const f of orphan.split('|')) expect(fs.existsSync(f)).toBe(true)
    await store.close()
  })
})

describe('pruneStore: what counts as used, and when', () => {
  it('keeps the files a cached build added (pnpm sideEffects), and verify checks them', async () => {
    const store = await openStore(tempDir(), { _now: later })
    const own = await store.ensureFile(Buffer.from('module.exports = require("./build/addon.node")'), { mode: 0o644 })
    const built = await store.ensureFile(Buffer.from('compiled addon bytes'), { mode: 0o755 })
    const info = (r: typeof own): FileInfo => ({ digest: r.digest, mode: 0o644, size: r.size, checkedAt: r.checkedAt })
    const key = packageIndexKey(sriOf(Buffer.from('addon')), 'addon@1.0.0')
    await store.writePackageIndex(key, {
      algo: 'sha512',
      files: new Map([['index.js', info(own)]]),
      sideEffects: new Map([['linux-x64-node20', { added: new Map([['build/addon.node', { ...info(built), mode: 0o755 }]]), deleted: [] }]]),
    })
    expect(await store.pruneStore(GRACE)).toMatchObject({ removed: { count: 0 }, referenced: 2 })
    expect(fs.existsSync(built.filePath)).toBe(true)

    fs.writeFileSync(built.filePath, 'COMPILED ADDON BYTES')
    fs.utimesSync(built.filePath, new Date(built.checkedAt + 60_000), new Date(built.checkedAt + 60_000))
    const report = await store.verifyStore({ graceMs: 0 })
    expect(report.problems.map(p => [p.file, p.problem])).toEqual([['sideEffects[linux-x64-node20]/build/addon.node', 'corrupt']])
    await store.close()
  })

  it('refuses a store with content but no package index at all, unless told', async () => {
    const store = await openStore(tempDir(), { _now: later })
    const { filePath } = await store.ensureFile(Buffer.from('a file whose index.db was lost'), { mode: 0o644 })
    await expect(store.pruneStore(GRACE)).rejects.toMatchObject({ code: 'ERR_CAS_PRUNE_REFUSED' })
    expect(fs.existsSync(filePath)).toBe(true)
    expect(await store.pruneStore({ ...GRACE, allowNoIndexes: true })).toMatchObject({ removed: { count: 1 } })
    await store.close()
  })

  it('judges age against the moment it started reading the indexes, however long the walk then takes', async () => {
    // The clock reads "now" when prune starts, then jumps far ahead (a walk of a huge store). The orphans were
    // written just before the start: an index row naming them may be missing from prune's snapshot, so they stay.
    let calls = 0
    const now = (): number => calls++ === 0 ? Date.now() : Date.now() + 3_600_000
    const { store, orphan } = await storeWithOrphan(now)
    const report = await store.pruneStore({ graceMs: 60_000 })
    expect(report).toMatchObject({ removed: { count: 0 }, keptYoung: 2 })
    for (const f of orphan.split('|')) expect(fs.existsSync(f)).toBe(true)
    await store.close()
  })
})

describe('pruneStore: the re-check under the lock, and stopping', () => {
  it('a file removed, or replaced by a directory, between the walk and the lock is left alone', async () => {
    for (const replaceWith of ['nothing', 'a directory'] as const) {
      const parked = gate()
      const store = await openStore(tempDir(), { _hooks: { 'prune:candidate': parked.wait }, _now: later })
      const { filePath } = await store.ensureFile(Buffer.from(`orphan (${replaceWith})`), { mode: 0o644 })
      const pruning = store.pruneStore({ ...GRACE, allowNoIndexes: true })
      await parked.reached
      fs.rmSync(filePath)
      if (replaceWith === 'a directory') fs.mkdirSync(filePath)
      parked.open()
      expect(await pruning).toMatchObject({ removed: { count: 0, bytes: 0 }, interrupted: false })
      expect(fs.existsSync(filePath)).toBe(replaceWith === 'a directory')
      await store.close()
    }
  })

  it('a file gone at the unlink is not counted; any other unlink failure is thrown', async () => {
    const parked = gate()
    const store = await openStore(tempDir(), { _hooks: { 'prune:locked': parked.wait }, _now: later })
    const { filePath } = await store.ensureFile(Buffer.from('orphan removed by someone else'), { mode: 0o644 })
    const pruning = store.pruneStore({ ...GRACE, allowNoIndexes: true })
    await parked.reached
    fs.rmSync(filePath)
    parked.open()
    expect(await pruning).toMatchObject({ removed: { count: 0, bytes: 0 } })

    const parkedAgain = gate()
    const store2 = await openStore(tempDir(), { _hooks: { 'prune:locked': parkedAgain.wait }, _now: later })
    const other = await store2.ensureFile(Buffer.from('orphan that turns into a folder'), { mode: 0o644 })
    const failing = store2.pruneStore({ ...GRACE, allowNoIndexes: true })
    await parkedAgain.reached
    fs.rmSync(other.filePath)
    fs.mkdirSync(other.filePath) // unlink(2) of a directory fails (EISDIR), as a read-only store fails EROFS
    parkedAgain.open()
    await expect(failing).rejects.toMatchObject({ code: 'EISDIR' })
    await store.close()
    await store2.close()
  })

  it('old means at least the grace period old, judged by the later of mtime and ctime', async () => {
    let now = Date.now
    const store = await openStore(tempDir(), { _now: () => now() })
    const { filePath } = await store.ensureFile(Buffer.from('exactly at the edge'), { mode: 0o644 })
    const { mtimeMs, ctimeMs } = fs.statSync(filePath)
    const edge = Math.max(mtimeMs, ctimeMs)
    now = () => edge + 999.5 // fractions: file times are not whole ms, and the sum must not round across the edge
    const edgeGrace = { graceMs: 1000, allowNoIndexes: true }
    expect(await store.pruneStore(edgeGrace)).toMatchObject({ removed: { count: 0 }, keptYoung: 1 })
    expect(fs.existsSync(filePath)).toBe(true)
    now = () => edge + 1000.5
    expect(await store.pruneStore(edgeGrace)).toMatchObject({ removed: { count: 1 }, keptYoung: 0 })
    expect(fs.existsSync(filePath)).toBe(false)
    await store.close()
  })

  it('a dry run counts old orphans with their bytes, and young ones as kept', async () => {
    let now = Date.now
    const { store } = await storeWithOrphan(() => now())
    const dry = { ...GRACE, dryRun: true }
    expect(await store.pruneStore(dry)).toMatchObject({ removed: { count: 0, bytes: 0 }, keptYoung: 2 })
    now = later
    expect(await store.pruneStore(dry)).toMatchObject({ removed: { count: 2, bytes: 10 }, keptYoung: 0 })
    await store.close()
  })

  it('an aborted signal: stopped before the walk, or during it (then no temp sweep), and says so', async () => {
    const { store, orphan } = await storeWithOrphan()
    const aborted = new AbortController()
    aborted.abort()
    expect(await store.pruneStore({ ...GRACE, signal: aborted.signal }))
      .toMatchObject({ interrupted: true, removed: { count: 0 } })
    await store.close()

    const controller = new AbortController()
    const stopping = await openStore(store.root, { _hooks: { 'prune:candidate': () => { controller.abort() } }, _now: later })
    const deadTemp = path.join(stopping.root, 'tmp', 'dead.cas-tmp')
    fs.writeFileSync(deadTemp, 'x')
    const report = await stopping.pruneStore({ ...GRACE, signal: controller.signal })
    expect(report).toMatchObject({ interrupted: true, removed: { count: 1 }, tempsRemoved: 0 })
    expect(orphan.split('|').filter(f => fs.existsSync(f))).toHaveLength(1)
    expect(fs.existsSync(deadTemp)).toBe(true)
    await stopping.close()
  })

  it('strays in files/ are not content: never pruned, and alone they do not make an index-less store "content"', async () => {
    const store = await openStore(tempDir(), { _now: later })
    expect(await store.pruneStore(GRACE)).toMatchObject({ removed: { count: 0 } }) // empty store: nothing to refuse
    const stray = path.join(store.root, 'files', 'ab', 'not-a-digest-name')
    fs.mkdirSync(path.dirname(stray), { recursive: true })
    fs.writeFileSync(stray, 'x')
    expect(await store.pruneStore(GRACE)).toMatchObject({ removed: { count: 0 } })
    expect(fs.existsSync(stray)).toBe(true)
    await store.close()
  })
})
