import fs from 'node:fs'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { openStore, packageIndexKey, type FileInfo, type Store } from '../../lib/index.js'
import { sriOf } from '../helpers/pnpm.js'
import { insertRawRow } from '../helpers/sqlite.js'
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
