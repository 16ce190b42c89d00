// How a task that joins another task's flight waits (`singleFlight` in lib/ensure/inFlight.ts), on a fake clock:
// a plain join sets no timer, `onWait` reports come once a second, `timeoutMs` fails the wait exactly at its
// deadline, and nothing is reported once the flight has landed.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { createStoreContext } from '../../lib/context.js'
import { singleFlight } from '../../lib/ensure/inFlight.js'
import { LockTimeoutError } from '../../lib/errors.js'
import type { WaitInfo } from '../../lib/lock/keyLock.js'
import type { WaitSince } from '../../lib/lock/lockWait.js'
import { tempDir } from '../helpers/tmp.js'

/** A flight the test lands by hand, and a context to run it in. */
function flight (): { ctx: ReturnType<typeof createStoreContext>, work: () => Promise<string>, land: () => void } {
  let land!: () => void
  const landed = new Promise<string>(resolve => { land = () => resolve('done') })
  return { ctx: createStoreContext({ root: tempDir(), fsync: false }), work: async () => await landed, land }
}

beforeEach(() => { vi.useFakeTimers() })
afterEach(() => { vi.useRealTimers() })

describe('singleFlight: a joining task', () => {
  it('without onWait or timeoutMs just waits: no timer', async () => {
    const { ctx, work, land } = flight()
    const first = singleFlight(ctx, 'k', work)
    const joined = singleFlight(ctx, 'k', work)
    await vi.advanceTimersByTimeAsync(0)
    expect(vi.getTimerCount()).toBe(0)
    land()
    expect(await joined).toEqual({ value: 'done', joined: true })
    expect(await first).toEqual({ value: 'done', joined: false })
  })

  it('gets an onWait report at once and then every second, and none after the flight lands', async () => {
    const { ctx, work, land } = flight()
    const first = singleFlight(ctx, 'k', work)
    const reports: WaitInfo[] = []
    const joined = singleFlight(ctx, 'k', work, { onWait: info => reports.push(info) })
    await vi.advanceTimersByTimeAsync(2500)
    expect(reports.map(r => r.waitedMs)).toEqual([0, 1000, 2000])
    expect(reports[0]).toMatchObject({ key: 'k', holder: { pid: process.pid } })
    land()
    expect(await joined).toMatchObject({ joined: true })
    await first
    await vi.advanceTimersByTimeAsync(5000)
    expect(reports).toHaveLength(3)
    expect(vi.getTimerCount()).toBe(0)
  })

  it('fails with ERR_CAS_LOCK_TIMEOUT exactly at its timeoutMs, not a report later', async () => {
    const { ctx, work, land } = flight()
    const first = singleFlight(ctx, 'k', work)
    const reports: number[] = []
    const joined = singleFlight(ctx, 'k', work, { timeoutMs: 300, onWait: info => reports.push(info.waitedMs) })
    const outcome = joined.then(() => 'resolved', (err: unknown) => err)
    await vi.advanceTimersByTimeAsync(299)
    expect(reports).toEqual([0])
    await vi.advanceTimersByTimeAsync(1)
    expect(await outcome).toMatchObject({ code: 'ERR_CAS_LOCK_TIMEOUT' })
    land()
    await first
  })

  it('that goes round after the first task\'s own lock wait timed out runs the work told when it began waiting', async () => {
    const ctx = createStoreContext({ root: tempDir(), fsync: false })
    let giveUp!: () => void
    const gaveUp = new Promise<void>(resolve => { giveUp = resolve })
    const first = singleFlight(ctx, 'k', async () => {
      await gaveUp
      throw new LockTimeoutError('k', undefined, 100)
    }, { timeoutMs: 100 })
    first.catch(() => {})
    const joinedAt = Date.now()
    let told: WaitSince | undefined
    const joined = singleFlight(ctx, 'k', async wait => {
      told = wait
      return 'mine'
    }, { timeoutMs: 5000, onWait: () => {} })
    await vi.advanceTimersByTimeAsync(1500)
    giveUp()
    expect(await joined).toEqual({ value: 'mine', joined: false })
    // Its lock's timeout and reports go on from its own start, 1.5 s before the work began.
    expect(told).toMatchObject({ timeoutMs: 5000, since: joinedAt })
    await expect(first).rejects.toMatchObject({ code: 'ERR_CAS_LOCK_TIMEOUT' })
  })
})
