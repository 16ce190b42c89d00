// Key lock files (ensurePackage, fetchFile, ensureDir) exist only while the lock is wanted: the holder removes its
// file, still holding the lock, before it lets go. These tests show that leaves nothing behind and never lets two
// holders in, even when a waiter was already queued on the file being removed.
import fs from 'node:fs'
import path from 'node:path'
import { afterEach, expect, it } from 'vitest'
import { hexToSri, openStore } from '../../lib/index.js'
import { ifKeyLockFree, removeFreeKeyLocks, withKeyLock } from '../../lib/lock/keyLock.js'
import { contentOf, sha512Hex } from '../helpers/content.js'
import { startServer, type TestServer } from '../helpers/server.js'
import { listFiles, tempDir } from '../helpers/tmp.js'

const servers: TestServer[] = []
afterEach(async () => { for (const s of servers.splice(0)) await s.close() })

it('the file is removed on release, and a waiter queued on the removed file never runs beside the next holder', async () => {
  const lockFile = path.join(tempDir(), 'k.lock')
  let inside = 0
  let most = 0
  const enter = (): void => { most = Math.max(most, ++inside) }
  let releaseFirst!: () => void
  let releaseThird!: () => void
  let firstIn!: () => void
  let waiterQueued!: () => void
  let thirdIn!: () => void
  const firstEntered = new Promise<void>(resolve => { firstIn = resolve })
  const queued = new Promise<void>(resolve => { waiterQueued = resolve })
  const thirdEntered = new Promise<void>(resolve => { thirdIn = resolve })
  const order: string[] = []

  const first = withKeyLock(lockFile, 'k', async () => {
    enter()
    order.push('first')
    firstIn()
    await new Promise<void>(resolve => { releaseFirst = resolve })
    inside--
  })
  await firstEntered
  // The waiter opens the current file and polls it: it is queued on the file the first holder will remove.
  // Its onWait is called on the first miss of each try: one called while the third is inside comes from a new try.
  let thirdInside = false
  let startedOver!: () => void
  const waiterStartedOver = new Promise<void>(resolve => { startedOver = resolve })
  const waiter = withKeyLock(lockFile, 'k', async () => {
    enter()
    order.push('waiter')
    inside--
  }, {
    onWait: () => {
      waiterQueued()
      if (thirdInside) startedOver()
    },
    pollMaxMs: 1,
  })
  await queued
  releaseFirst()
  await first
  expect(fs.existsSync(lockFile)).toBe(false)
  // Before the waiter polls again, a newcomer creates a new file and takes it.
  const third = withKeyLock(lockFile, 'k', async () => {
    enter()
    order.push('third')
    thirdIn()
    await new Promise<void>(resolve => { releaseThird = resolve })
    inside--
  })
  await thirdEntered
  thirdInside = true
  // The waiter's next poll gets the flock of the removed file: it must see it is not the current one and start over.
  await Promise.race([waiterStartedOver, waiter])
  expect(order).toEqual(['first', 'third'])
  releaseThird()
  await Promise.all([third, waiter])
  expect(order).toEqual(['first', 'third', 'waiter'])
  expect(most).toBe(1)
  expect(fs.existsSync(lockFile)).toBe(false)
})

it('a file left by a killed holder is reused and removed by the next taker, or by removeFreeKeyLocks; a held one is left', async () => {
  const dir = tempDir()
  const left = path.join(dir, 'left.lock')
  fs.writeFileSync(left, JSON.stringify({ pid: 999999, hostname: 'gone', since: 0 }))
  expect(await withKeyLock(left, 'left', async () => 'ran')).toBe('ran')
  expect(fs.existsSync(left)).toBe(false)

  fs.writeFileSync(left, '')
  let release!: () => void
  let entered!: () => void
  const inside = new Promise<void>(resolve => { entered = resolve })
  const held = withKeyLock(path.join(dir, 'held.lock'), 'held', async () => {
    entered()
    await new Promise<void>(resolve => { release = resolve })
  })
  await inside
  expect(await removeFreeKeyLocks(dir)).toBe(1)
  expect(fs.readdirSync(dir)).toEqual(['held.lock'])
  expect(await ifKeyLockFree(path.join(dir, 'held.lock'), async () => true)).toBeUndefined()
  release()
  await held
  expect(fs.readdirSync(dir)).toEqual([])
})

it('fetchFile leaves no lock file per download', async () => {
  const body = contentOf('nolock', 1, 100_000)
  const server = await startServer(body)
  servers.push(server)
  const store = await openStore(tempDir())
  await store.fetchFile(server.url, { integrity: hexToSri(sha512Hex(body)) })
  expect(listFiles(path.join(store.root, 'partial'))).toEqual([])
  await store.close()
})

it('cas verify --fix (verifyStore) removes a lock file a killed holder left, and neither lists nor touches one that is held', async () => {
  // The store's clock a minute ahead, so both lock files are past the grace period. With graceMs 0 and the real
  // clock, a file written in the same millisecond as the sweep reads the clock is "changed after now" (its ctime
  // has a sub-millisecond part, Date.now() has none), hence young and not listed: the test then saw one entry.
  const store = await openStore(tempDir(), { _now: () => Date.now() + 60_000 })
  const locks = path.join(store.root, 'locks', 'packages')
  fs.mkdirSync(locks, { recursive: true })
  fs.writeFileSync(path.join(locks, 'dead.lock'), JSON.stringify({ pid: 999999, hostname: 'gone', since: 0 }))
  let release!: () => void
  let entered!: () => void
  const inside = new Promise<void>(resolve => { entered = resolve })
  const held = withKeyLock(path.join(locks, 'live.lock'), 'live', async () => {
    entered()
    await new Promise<void>(resolve => { release = resolve })
  })
  await inside
  const report = await store.verifyStore({ fix: true, graceMs: 0 })
  expect(report.staleTemps.map(t => [path.basename(t.path), t.kind, t.removed]).sort()).toEqual([['dead.lock', 'lock-file', true]])
  expect(fs.readdirSync(locks)).toEqual(['live.lock'])
  release()
  await held
  expect(fs.readdirSync(locks)).toEqual([])
  await store.close()
})
