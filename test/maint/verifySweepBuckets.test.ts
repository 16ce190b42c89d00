// The content sweep of verifyStore skips the names it verified good, and whole buckets that list only those; a
// stray or an unreferenced file in a bucket beside verified content must still be found.
import crypto from 'node:crypto'
import fs from 'node:fs'
import path from 'node:path'
import { expect, it } from 'vitest'
import { openStore, packageIndexKey, type PackageIndex } from '../../lib/index.js'
import { tempDir } from '../helpers/tmp.js'

it('a stale stray and an orphan in a bucket that also holds verified content are reported', async () => {
  const store = await openStore(tempDir(), { threads: 0 })
  const index: PackageIndex = { algo: 'sha512', files: new Map() }
  const added = await store.ensureFile(Buffer.from('referenced\n'), { mode: 0o644 })
  index.files.set('a.js', { digest: added.digest, mode: 0o644, size: added.size, checkedAt: added.checkedAt })
  await store.writePackageIndex(packageIndexKey('sha512-AAAA', 'pkg@1.0.0'), index)
  const bucket = added.digest.slice(0, 2)
  // Unreferenced content in the same bucket.
  let orphan: Buffer
  for (let i = 0; ; i++) {
    orphan = Buffer.from(`orphan ${i}\n`)
    if (crypto.createHash('sha512').update(orphan).digest('hex').startsWith(bucket)) break
  }
  await store.ensureFile(orphan, { mode: 0o644 })
  // A dead writer's temp beside them (pnpm writes its temps next to their targets); grace 0: stale at once.
  const stray = path.join(store.root, 'files', bucket, added.digest.slice(2) + '123-7')
  fs.writeFileSync(stray, 'half written')

  const report = await store.verifyStore({ graceMs: 0 })
  expect(report.filesChecked).toBe(1)
  expect(report.orphans.count).toBe(1)
  expect(report.staleTemps.map(t => t.path)).toEqual([stray])
  fs.rmSync(stray)
  expect(await store.verifyStore({ graceMs: 0 })).toMatchObject({ orphans: { count: 1 }, staleTemps: [] })
  await store.close()
})
