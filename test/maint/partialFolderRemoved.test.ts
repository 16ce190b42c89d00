// A folder in partial/ named like kept bytes (`<digest>.partial`, made by a user or a tool) is removed by the
// cleaners like any other stale temp of the store (recursively), and `cas verify --fix` reports it instead of
// stopping on EISDIR.
import fs from 'node:fs'
import path from 'node:path'
import { afterEach, expect, it } from 'vitest'
import { openStore } from '../../lib/index.js'
import { removeTemp, staleTemps } from '../../lib/maint/staleTemps.js'
import { tempDir } from '../helpers/tmp.js'

const closers: Array<() => Promise<void>> = []
afterEach(async () => { for (const close of closers.splice(0)) await close() })

it('a stale directory named <digest>.partial is removed by removeTemp, not thrown on', async () => {
  const store = await openStore(tempDir())
  closers.push(async () => { await store.close() })
  const dir = path.join(store.root, 'partial', `${'ab'.repeat(64)}.partial`)
  fs.mkdirSync(path.join(dir, 'inner'), { recursive: true })
  fs.writeFileSync(path.join(dir, 'inner', 'f'), 'x')
  const listed = []
  for await (const t of staleTemps(store.root, 0, Date.now() + 1000)) if (t.path === dir) listed.push(t)
  expect(listed).toMatchObject([{ kind: 'partial-download' }])
  await expect(removeTemp(listed[0]!)).resolves.toBe(true)
  expect(fs.existsSync(dir)).toBe(false)
})

it('verifyStore --fix with a stale directory named <digest>.partial completes', async () => {
  const store = await openStore(tempDir())
  closers.push(async () => { await store.close() })
  const dir = path.join(store.root, 'partial', `${'cd'.repeat(64)}.partial`)
  fs.mkdirSync(dir, { recursive: true })
  const past = new Date(Date.now() - 3_600_000)
  fs.utimesSync(dir, past, past)
  const report = await store.verifyStore({ fix: true, graceMs: 0 })
  expect(report.staleTemps.filter(t => t.path === dir)).toMatchObject([{ removed: true }])
})

it('kept bytes whose size changed since they were listed are kept, even within one tick of the clock', async () => {
  const store = await openStore(tempDir())
  closers.push(async () => { await store.close() })
  const parked = path.join(store.root, 'partial', `${'ef'.repeat(64)}.partial`)
  fs.mkdirSync(path.dirname(parked), { recursive: true })
  fs.writeFileSync(parked, 'x'.repeat(100))
  const listed = []
  for await (const t of staleTemps(store.root, 0, Date.now() + 1000)) if (t.path === parked) listed.push(t)
  expect(listed).toHaveLength(1)
  fs.appendFileSync(parked, 'more') // a download re-parked more bytes; the times may read the same
  const past = new Date(listed[0]!.changedAt! - 1000)
  fs.utimesSync(parked, past, past) // (mtime back; the ctime the utimes bumps is the tick's, as a re-park's)
  await expect(removeTemp({ ...listed[0]!, changedAt: Date.now() + 10_000 })).resolves.toBe(false)
  expect(fs.statSync(parked).size).toBe(104)
})
