import type { WaitOptions } from './lockWait.js'
import { MutexMap } from './mutexMap.js'
import { StripeLocks } from './stripeLocks.js'
import { reach, type TestHooks } from '../util/hooks.js'

/**
 * The path lock: exclusive access to one content path, against tasks of this process (per-path mutex) and against
 * other processes (flock on the path's stripe). Taken in that order, so tasks of one process queue on the mutex
 * and only one of them polls the OS lock.
 *
 * Callers must never hold two path locks at once: two processes locking stripes in opposite orders would deadlock.
 * Every caller in this library takes one, does a few syscalls, and lets go.
 */
export class PathLock {
  readonly #mutexes = new MutexMap()
  readonly #stripes: StripeLocks
  readonly #hooks: TestHooks | undefined
  readonly #enabled: boolean

  constructor (locksDir: string, options: { hooks?: TestHooks, enabled?: boolean, wait?: WaitOptions } = {}) {
    this.#stripes = new StripeLocks(locksDir, options.wait)
    this.#hooks = options.hooks
    this.#enabled = options.enabled ?? true
  }

  /**
   * Runs `fn` while holding the lock on `key` (a content path) and its OS stripe; releases both on every way out,
   * exceptions included.
   */
  async withLock<T> (key: string, stripe: number, fn: () => T | Promise<T>): Promise<T> {
    if (!this.#enabled) return await fn()
    if (this.#hooks !== undefined && this.#mutexes.isLocked(key)) await reach(this.#hooks, 'lock:queued', key)
    const releaseMutex = await this.#mutexes.acquire(key)
    try {
      await this.#stripes.acquire(stripe, async () => reach(this.#hooks, 'lock:contended', key), key)
      try {
        return await fn()
      } finally {
        this.#stripes.release(stripe)
      }
    } finally {
      releaseMutex()
    }
  }

  /**
   * The uncontended case without a single promise: when no task of this process holds or waits for `key` and the
   * stripe's OS lock can be had at once, runs the synchronous `fn` under the lock and returns `{ value }`.
   * Returns undefined (having done nothing) when the lock is not free right now; use {@link withLock} then.
   * Safe because `fn` runs to completion before any other task of this thread can run.
   */
  tryWithLockSync<T> (key: string, stripe: number, fn: () => T): { value: T } | undefined {
    if (!this.#enabled) return { value: fn() }
    if (this.#mutexes.has(key) || !this.#stripes.tryAcquireSync(stripe)) return undefined
    try {
      return { value: fn() }
    } finally {
      this.#stripes.release(stripe)
    }
  }

  /** Keys with an in-process mutex entry right now (holders or waiters). */
  get activeKeys (): number {
    return this.#mutexes.size
  }

  /** Closes the lock files, which drops any OS lock this process still holds. */
  close (): void {
    this.#stripes.close()
  }
}
