// waitForLock, the one wait loop of every lock: when it reports, when it gives up, what it says about the holder,
// and how long it sleeps between tries. The clock is the test's: each failed try moves it to the next scripted
// time, so the boundaries (exactly reportAfterMs, exactly timeoutMs, exactly a second later) are hit exactly.
import { afterEach, expect, it, vi } from 'vitest'
import { LockTimeoutError } from '../../lib/errors.js'
import { waitForLock, type LockHolder, type WaitInfo } from '../../lib/lock/lockWait.js'

const START = 1_700_000_000_000

afterEach(() => { vi.restoreAllMocks() })

/**
 * A lock that is missed once per entry of `times` and then taken. Each miss sets the clock to START + that time
 * (so the wait loop reads it as how long it has waited); `tries()` counts the tries made.
 */
function scripted (times: number[]): { tryTake: () => boolean, tries: () => number } {
  let now = START
  vi.spyOn(Date, 'now').mockImplementation(() => now)
  let tries = 0
  return {
    tryTake: () => {
      const next = times[tries++]
      if (next === undefined) return true
      now = START + next
      return false
    },
    tries: () => tries,
  }
}

const holder = (): LockHolder => ({ pid: 4242, hostname: 'h' })

it('gives up at exactly timeoutMs (not one try later) naming the holder; a try before that keeps waiting', async () => {
  const lock = scripted([999, 1000])
  const err = await waitForLock(lock.tryTake, { key: 'k', holder, maxBackoffMs: 1 }, { timeoutMs: 1000 })
    .catch((e: unknown) => e)
  expect(err).toBeInstanceOf(LockTimeoutError)
  expect(err).toMatchObject({ code: 'ERR_CAS_LOCK_TIMEOUT', key: 'k', holder: holder() })
  expect(lock.tries()).toBe(2)
})

it('counts the wait from `started` when given (a caller that already waited), else from its own start', async () => {
  const lock = scripted([0])
  await expect(waitForLock(lock.tryTake, { key: 'k', holder, started: START - 5000, maxBackoffMs: 1 },
    { timeoutMs: 1000 })).rejects.toBeInstanceOf(LockTimeoutError)
  expect(lock.tries()).toBe(1)

  const reports: number[] = []
  const again = scripted([250])
  await waitForLock(again.tryTake, { key: 'k', holder, maxBackoffMs: 1 }, { onWait: i => reports.push(i.waitedMs) })
  expect(reports).toEqual([250])
})

it('reports first at exactly reportAfterMs, then once each second, with how long it has waited', async () => {
  const lock = scripted([0, 1999, 2000, 2500, 2999, 3000, 3001, 3999, 4000])
  const reports: number[] = []
  await waitForLock(lock.tryTake, { key: 'k', holder, reportAfterMs: 2000, maxBackoffMs: 1 },
    { onWait: i => reports.push(i.waitedMs) })
  expect(reports).toEqual([2000, 3000, 4000])

  // Without reportAfterMs, the first miss is reported at once.
  const soon = scripted([0, 1])
  const first: number[] = []
  await waitForLock(soon.tryTake, { key: 'k', holder, maxBackoffMs: 1 }, { onWait: i => first.push(i.waitedMs) })
  expect(first).toEqual([0])
})

it('says how long the holder has held the lock only when the holder said since when', async () => {
  const seen: WaitInfo[] = []
  const since = START - 300
  for (const who of [(): LockHolder => ({ pid: 1, hostname: 'h', since }), holder, () => undefined]) {
    const lock = scripted([0])
    await waitForLock(lock.tryTake, { key: 'k', holder: who, maxBackoffMs: 1 }, { onWait: i => seen.push(i) })
  }
  expect(seen.map(i => [i.holder?.pid, i.heldForMs])).toEqual([[1, 300], [4242, undefined], [undefined, undefined]])
})

it('sleeps between tries up to maxBackoffMs, or up to 100 ms when not given', async () => {
  // The timers fire at once here: what is checked is the sleep each try asks for.
  const asked: number[] = []
  vi.spyOn(globalThis, 'setTimeout').mockImplementation(((fn: () => void, ms?: number) => {
    asked.push(ms ?? 0)
    setImmediate(fn)
    return 0
  }) as unknown as typeof setTimeout)
  const misses = Array.from({ length: 14 }, (_, i) => i)
  await waitForLock(scripted(misses).tryTake, { key: 'k', holder, maxBackoffMs: 4 })
  expect(asked.length).toBeGreaterThan(0)
  expect(Math.max(...asked)).toBeLessThanOrEqual(4)

  asked.length = 0
  await waitForLock(scripted(misses).tryTake, { key: 'k', holder })
  // Past the tenth try the ceiling is 100 ms and each sleep at least half of it; 32 ms would be backoff's default.
  expect(Math.max(...asked)).toBeGreaterThanOrEqual(50)
  expect(Math.max(...asked)).toBeLessThanOrEqual(100)
})
