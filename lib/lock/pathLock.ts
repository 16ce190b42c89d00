import type { WaitOptions } from './lockWait.js'
import { MutexMap } from './mutexMap.js'
import { StripeLocks } from './stripeLocks.js'
import { reach, type TestHooks } from '../util/hooks.js'

const NO_LOCK = (): void => {}

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
   * Waits for the lock on `key` (a content path) and its OS stripe; resolves to the release function (call it
   * exactly once, on every way out).
   */
  async acquire (key: string, stripe: number): Promise<() => void> {
    if (!this.#enabled) return NO_LOCK
    // The call's timeout counts from here: time queued behind tasks of this process that wait for the same OS
    // lock is time waited too (four writers of one content each gave up a timeout after the one before).
    const started = Date.now()
    if (this.#mutexes.isLocked(key)) await reach(this.#hooks, 'lock:queued', key)
    const releaseMutex = await this.#mutexes.acquire(key)
    try {
      await this.#stripes.acquire(stripe, () => reach(this.#hooks, 'lock:contended', key), key, started)
    } catch (err) {
      releaseMutex()
      throw err
    }
    return () => {
      this.#stripes.release(stripe)
      releaseMutex()
    }
  }

  /**
   * The uncontended case without a promise: when no task of this process holds or waits for `key` and the
   * stripe's OS lock can be had at once, takes both and returns the release function; otherwise does nothing
   * and returns undefined (use {@link acquire} then). The lock taken is the same as {@link acquire}'s, so its
   * holder may await (a pause point, a re-check) while other tasks queue behind it.
   */
  tryAcquireSync (key: string, stripe: number): (() => void) | undefined {
    if (!this.#enabled) return NO_LOCK
    const releaseMutex = this.#mutexes.tryAcquireSync(key)
    if (releaseMutex === undefined) return undefined
    let taken: boolean
    try {
      taken = this.#stripes.tryAcquireSync(stripe)
    } catch (err) {
      // A lock file that cannot be opened (ERR_CAS_LOCK_FILE), a closed store: the mutex must not stay held, or
      // every later lock of this path in this process would wait for it forever.
      releaseMutex()
      throw err
    }
    if (!taken) {
      releaseMutex()
      return undefined
    }
    return () => {
      this.#stripes.release(stripe)
      releaseMutex()
    }
  }

  /** Runs `fn` under the lock on `key` and its stripe ({@link acquire}); releases on every way out. */
  async withLock<T> (key: string, stripe: number, fn: () => T | Promise<T>): Promise<T> {
    const release = await this.acquire(key, stripe)
    try {
      return await fn()
    } finally {
      release()
    }
  }

  /** Keys with an in-process mutex entry right now (holders or waiters). */
  get activeKeys (): number {
    return this.#mutexes.size
  }

  /** Closes the lock descriptors kept open while unlocked (see `StripeLocks`); returns how many. */
  closeIdle (): number {
    return this.#stripes.closeIdle()
  }

  /** Closes the lock files, which drops any OS lock this process still holds. */
  close (): void {
    this.#stripes.close()
  }
}
