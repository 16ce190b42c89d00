// The prune race: a writer finds its content already in the store (left unreferenced by an uninstalled package),
// returns "it is in the store", and writes the package index that references it a moment later. A prune that
// runs in between sees unreferenced, old content and removes it; the install then links a hole. The writer must
// claim what it found, under the path lock that prune re-checks under.
import fs from 'node:fs'
import { expect, it } from 'vitest'
import { openStore } from '../../lib/index.js'
import { gate } from '../helpers/gate.js'
import { tempDir } from '../helpers/tmp.js'

const GRACE = 10 * 60_000
/** A store clock past the grace period of anything written now. */
const later = (): number => Date.now() + 2 * GRACE
const data = Buffer.from('content an uninstalled package left behind\n')

it('prune removes the content before the writer claims it: the writer sees it gone and writes it again', async () => {
  const writerParked = gate()
  const store = await openStore(tempDir(), { _hooks: { 'writer:deduped': writerParked.wait }, _now: later })
  const seeded = await openStore(store.root)
  const { filePath } = await seeded.ensureFile(data, { mode: 0o644 })
  await seeded.close()

  const writing = store.ensureFile(data, { mode: 0o644 })
  await writerParked.reached // it found the content in place and is about to return
  const pruned = await store.pruneStore({ graceMs: GRACE, allowNoIndexes: true })
  expect(pruned.removed.count).toBe(1)
  expect(fs.existsSync(filePath)).toBe(false)

  writerParked.open()
  expect((await writing).filePath).toBe(filePath)
  expect(fs.readFileSync(filePath).equals(data)).toBe(true)
  await store.close()
})

it('the writer claims the content before prune looks: prune sees it freshly used and keeps it', async () => {
  let now = Date.now
  const store = await openStore(tempDir(), { _now: () => now() })
  const { filePath } = await store.ensureFile(data, { mode: 0o644 })
  const seededAt = fs.statSync(filePath).ctimeMs
  // File timestamps tick at the kernel's clock granularity (a few ms): let one tick pass so the claim shows.
  while (Date.now() < seededAt + 50) await new Promise(resolve => setImmediate(resolve))

  await store.ensureFile(data, { mode: 0o644 }) // a dedupe hit; its index row is not written yet
  const claimedAt = fs.statSync(filePath).ctimeMs
  expect(claimedAt).toBeGreaterThan(seededAt)
  // Prune judges at a moment when the seeded file is past the grace period but the claim is not.
  now = () => seededAt + GRACE + (claimedAt - seededAt) / 2
  const pruned = await store.pruneStore({ graceMs: GRACE, allowNoIndexes: true })
  expect(pruned).toMatchObject({ removed: { count: 0 }, keptYoung: 1 })
  expect(fs.readFileSync(filePath).equals(data)).toBe(true)
  await store.close()
})

it('prune has proven the content old under the lock when the writer claims it: the claim waits, then rewrites', async () => {
  const pruneParked = gate()
  const pruner = await openStore(tempDir(), { _hooks: { 'prune:locked': pruneParked.wait }, _now: later })
  const writer = await openStore(pruner.root)
  const { filePath } = await writer.ensureFile(data, { mode: 0o644 })

  const pruning = pruner.pruneStore({ graceMs: GRACE, allowNoIndexes: true })
  await pruneParked.reached // lock held, about to unlink
  const writing = writer.ensureFile(data, { mode: 0o644 })
  await new Promise(resolve => setImmediate(resolve))
  pruneParked.open()
  expect((await pruning).removed.count).toBe(1)
  await writing
  expect(fs.readFileSync(filePath).equals(data)).toBe(true)
  await pruner.close()
  await writer.close()
})

it('the writer claims the content after prune\'s walk judged it old, before prune locks it: prune re-checks and keeps it', async () => {
  const pruneParked = gate()
  let now = Date.now
  const pruner = await openStore(tempDir(), { _hooks: { 'prune:candidate': pruneParked.wait }, _now: () => now() })
  const writer = await openStore(pruner.root)
  const { filePath } = await writer.ensureFile(data, { mode: 0o644 })
  const seededAt = fs.statSync(filePath).ctimeMs
  // File timestamps tick at the kernel's clock granularity (a few ms): let one tick pass so the claim shows.
  while (Date.now() < seededAt + 50) await new Promise(resolve => setImmediate(resolve))

  // Prune judges at a moment when the seeded file is past the grace period and the claim to come is not.
  now = () => seededAt + GRACE + 25
  const pruning = pruner.pruneStore({ graceMs: GRACE, allowNoIndexes: true })
  await pruneParked.reached // the walk's stat says: unreferenced and old; the path lock is not taken yet
  await writer.ensureFile(data, { mode: 0o644 }) // a dedupe hit, claimed; its index row is not written yet
  expect(fs.statSync(filePath).ctimeMs).toBeGreaterThan(seededAt + 25)
  pruneParked.open()

  expect(await pruning).toMatchObject({ removed: { count: 0 }, keptYoung: 1 })
  expect(fs.readFileSync(filePath).equals(data)).toBe(true)
  await pruner.close()
  await writer.close()
})
