// flock.ts, the OS half of every lock: the non-blocking try, the unlock, and the sleeps between tries.
import fs from 'node:fs'
import path from 'node:path'
import { afterEach, expect, it, vi } from 'vitest'
import { backoff, openLockFile, tryFlock, unlockFd } from '../../lib/lock/flock.js'
import { tempDir } from '../helpers/tmp.js'

afterEach(() => { vi.restoreAllMocks() })

/** The sleeps (ms) asked of setTimeout from now on; the timers fire at once, and Math.random returns `random`. */
function sleepsAsked (random: number): number[] {
  const asked: number[] = []
  vi.spyOn(Math, 'random').mockReturnValue(random)
  vi.spyOn(globalThis, 'setTimeout').mockImplementation(((fn: () => void, ms?: number) => {
    asked.push(ms ?? 0)
    setImmediate(fn)
    return 0
  }) as unknown as typeof setTimeout)
  return asked
}

it('backoff only yields for the first three retries, then sleeps 1, 2, 4 … ms up to maxMs (32 by default), with jitter', async () => {
  const asked = sleepsAsked(0)
  for (const attempt of [0, 1, 2]) await backoff(attempt)
  expect(asked).toEqual([])
  // With Math.random() at 0 each sleep is half its ceiling.
  for (const attempt of [3, 4, 5, 8, 9, 12]) await backoff(attempt)
  expect(asked).toEqual([0.5, 1, 2, 16, 16, 16])
  asked.length = 0
  for (const attempt of [9, 12]) await backoff(attempt, 100)
  expect(asked).toEqual([32, 50])
})

it('backoff\'s jitter puts each sleep between half its ceiling and the ceiling', async () => {
  const asked = sleepsAsked(0.5)
  await backoff(6)
  await backoff(20, 40)
  expect(asked).toEqual([6, 30])
})

it('tryFlock takes a free lock, says false while another description holds it, and throws any other error', () => {
  const file = path.join(tempDir(), 'k.lock')
  const a = openLockFile(file)
  const b = openLockFile(file)
  expect(tryFlock(a)).toBe(true)
  expect(tryFlock(b)).toBe(false)
  unlockFd(a)
  expect(tryFlock(b)).toBe(true)
  unlockFd(b)
  // A closed descriptor: EBADF is not "held by someone", so it comes out.
  expect(() => tryFlock(b)).toThrow(expect.objectContaining({ code: 'EBADF' }) as Error)
  expect(fs.existsSync(file)).toBe(true)
})
