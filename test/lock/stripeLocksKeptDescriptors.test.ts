// The stripe descriptors kept open between locks: unlocked while kept, never trusted once their lock file is
// gone, closed when idle, and given back at once when the process runs out of descriptors.
import fs from 'node:fs'
import path from 'node:path'
import { afterEach, expect, it, vi } from 'vitest'
import { StripeLocks } from '../../lib/lock/stripeLocks.js'
import { runFixture } from '../helpers/child.js'
import { signal } from '../helpers/gate.js'
import { tempDir } from '../helpers/tmp.js'

it('a kept descriptor is unlocked: another open file description (another process) can take the stripe', async () => {
  const dir = tempDir()
  const idleClosed = signal()
  const ours = new StripeLocks(dir, {}, { idleCloseMs: 20, onIdleClosed: idleClosed.signal })
  const theirs = new StripeLocks(dir, {}, { idleCloseMs: 20 })
  await ours.acquire(5)
  expect(theirs.tryAcquireSync(5)).toBe(false)
  ours.release(5)
  expect(ours.openDescriptors).toBe(1) // kept for the next lock
  expect(theirs.tryAcquireSync(5)).toBe(true) // but not locked
  expect(ours.tryAcquireSync(5)).toBe(false)
  theirs.release(5)
  expect(ours.tryAcquireSync(5)).toBe(true) // the kept descriptor is reused
  ours.release(5)
  await idleClosed.signalled // the idle timer gives it back
  expect(ours.openDescriptors).toBe(0)
  ours.close()
  theirs.close()
})

it('a kept descriptor whose lock file was deleted is not reused: the stripe still excludes the new file\'s holders', async () => {
  const dir = tempDir()
  const ours = new StripeLocks(dir, {}, { idleCloseMs: 60_000 })
  const theirs = new StripeLocks(dir, {}, { idleCloseMs: 60_000 })
  await ours.acquire(7)
  ours.release(7)
  fs.rmSync(path.join(dir, '07')) // a user cleaning up locks/ while processes run
  expect(ours.tryAcquireSync(7)).toBe(true) // locks the new 07
  expect(theirs.tryAcquireSync(7)).toBe(false)
  ours.release(7)
  ours.close()
  theirs.close()
})

it('closeIdle() closes every kept descriptor and none in use', async () => {
  const locks = new StripeLocks(tempDir(), {}, { idleCloseMs: 60_000 })
  for (const i of [1, 2, 3]) {
    await locks.acquire(i)
    locks.release(i)
  }
  await locks.acquire(4)
  expect(locks.openDescriptors).toBe(4)
  expect(locks.closeIdle()).toBe(3)
  expect(locks.openDescriptors).toBe(1)
  locks.release(4)
  locks.close()
  expect(locks.openDescriptors).toBe(0)
})

it('out of descriptors, a new stripe lock gives back the idle ones instead of waiting forever', async () => {
  const child = runFixture('idleStripesEmfile.ts', [tempDir()], {}, ['sh', '-c', 'ulimit -n 64 && exec "$@"', 'sh'])
  const report = JSON.parse(await child.line(l => l.startsWith('{')))
  expect(report).toMatchObject({ exhausted: true, locked: true, error: null })
})

afterEach(() => {
  vi.useRealTimers()
  vi.restoreAllMocks()
})

it('the idle timer closes a kept descriptor idleCloseMs after its last use, not before, and then says so', async () => {
  vi.useFakeTimers()
  let told = 0
  const locks = new StripeLocks(tempDir(), {}, { idleCloseMs: 100, onIdleClosed: () => { told++ } })
  await locks.acquire(1)
  locks.release(1)
  await vi.advanceTimersByTimeAsync(60)
  await locks.acquire(2) // a second stripe goes idle later: it gets its own full idle time
  locks.release(2)
  await vi.advanceTimersByTimeAsync(39)
  expect(locks.openDescriptors).toBe(2)
  await vi.advanceTimersByTimeAsync(1) // 100 ms after stripe 1's release: it closes, stripe 2 (40 ms idle) stays
  expect(locks.openDescriptors).toBe(1)
  expect(told).toBe(0)
  await vi.advanceTimersByTimeAsync(100)
  expect(locks.openDescriptors).toBe(0)
  expect(told).toBe(1)
  expect(vi.getTimerCount()).toBe(0) // nothing idle: no timer left behind
  locks.close()
})

it('a descriptor used again before its idle time is up is not closed under its holder', async () => {
  vi.useFakeTimers()
  const locks = new StripeLocks(tempDir(), {}, { idleCloseMs: 100 })
  await locks.acquire(1)
  locks.release(1)
  await vi.advanceTimersByTimeAsync(90)
  await locks.acquire(1)
  await vi.advanceTimersByTimeAsync(500)
  expect(locks.openDescriptors).toBe(1)
  locks.release(1)
  expect(locks.closeIdle(50)).toBe(0) // idle for 0 ms: younger than 50
  await vi.advanceTimersByTimeAsync(60)
  expect(locks.closeIdle(50)).toBe(1)
  locks.close()
})

it('EMFILE on a lock file\'s open: the idle descriptors are given back and the open tried once more', async () => {
  const locks = new StripeLocks(tempDir(), {}, { idleCloseMs: 60_000 })
  for (const i of [1, 2]) {
    await locks.acquire(i)
    locks.release(i)
  }
  const openSync = fs.openSync
  let refused = 0
  vi.spyOn(fs, 'openSync').mockImplementation(((file: fs.PathLike, ...rest: unknown[]) => {
    if (String(file).endsWith('/03') && refused++ === 0) {
      throw Object.assign(new Error('EMFILE: too many open files'), { code: 'EMFILE', syscall: 'open' })
    }
    return (openSync as (...args: unknown[]) => number)(file, ...rest)
  }) as typeof fs.openSync)
  expect(locks.tryAcquireSync(3)).toBe(true)
  expect(refused).toBe(2)
  expect(locks.openDescriptors).toBe(1) // the two idle ones were closed to make room
  locks.release(3)
  locks.close()
})

it('EMFILE with nothing idle to give back: a sync try says no, and keeps no descriptor', async () => {
  const locks = new StripeLocks(tempDir(), {}, { idleCloseMs: 60_000 })
  vi.spyOn(fs, 'openSync').mockImplementation(() => {
    throw Object.assign(new Error('EMFILE: too many open files'), { code: 'EMFILE', syscall: 'open' })
  })
  expect(locks.tryAcquireSync(3)).toBe(false)
  vi.restoreAllMocks()
  expect(locks.openDescriptors).toBe(0)
  expect(locks.tryAcquireSync(3)).toBe(true)
  locks.release(3)
  locks.close()
})
