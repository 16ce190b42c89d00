import fs from 'node:fs'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { openStore, packageIndexKey } from '../../lib/index.js'
import { sriOf } from '../helpers/pnpm.js'
import { insertRawRow } from '../helpers/sqlite.js'
import { tempDir } from '../helpers/tmp.js'

const LATER = { graceMs: 60_000, now: () => Date.now() + 120_000 }

async function storeWithOrphan (): Promise<{ store: Awaited<ReturnType<typeof openStore>>, kept: string, orphan: string }> {
  const store = await openStore(tempDir())
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
    const report = await store.pruneStore(LATER)
    expect(report).toMatchObject({ removed: { count: 2, bytes: 10 }, referenced: 1, keptYoung: 0, tempsRemoved: 1 })
    for (const f of orphan.split('|')) expect(fs.existsSync(f)).toBe(false)
    expect(fs.existsSync(kept)).toBe(true)
    await store.close()
  })

  it('keeps everything changed within the grace period; a dry run removes nothing', async () => {
    const { store, orphan } = await storeWithOrphan()
    expect(await store.pruneStore({ graceMs: 60_000 })).toMatchObject({ removed: { count: 0 }, keptYoung: 2 })
    expect(await store.pruneStore({ ...LATER, dryRun: true })).toMatchObject({ dryRun: true, removed: { count: 2 } })
    for (const f of orphan.split('|')) expect(fs.existsSync(f)).toBe(true)
    await store.close()
  })

  it('refuses to remove anything while an index is unreadable (its files would look unused)', async () => {
    const { store, orphan } = await storeWithOrphan()
    insertRawRow(store.root, packageIndexKey(sriOf(Buffer.from('q')), 'q@1.0.0'), Buffer.from([0xc1]))
    await expect(store.pruneStore(LATER)).rejects.toMatchObject({ code: 'ERR_CAS_INDEX_CORRUPT' })
    for (const f of orphan.split('|')) expect(fs.existsSync(f)).toBe(true)
    await store.close()
  })
})
