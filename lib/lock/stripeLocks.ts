import fs from 'node:fs'
import path from 'node:path'
import { LockFileError, StoreClosedError } from '../errors.js'
import { errorCode, isFdExhaustion } from '../util/fs.js'
import { flockSync, openLockFile, tryFlock, unlockFd } from './flock.js'
import { flockHolder, waitForLock, type WaitOptions } from './lockWait.js'

/**
 * Number of OS lock files. A fixed set, so the store never grows one lock file per content file, and each
 * process keeps at most this many descriptors open. Every process sharing a store must agree on it, which is
 * why it is a constant and not an option. 256 = one stripe per `files/<2 hex>` bucket.
 */
export const STRIPE_COUNT = 256

/** A path lock wait shorter than this is normal contention and says nothing; a longer one reports the holder. */
export const REPORT_WAIT_AFTER_MS = 2000

interface Stripe {
  /** Open while this process holds or polls for the stripe's OS lock, and for a short while after (idle). */
  fd: number | undefined
  /** When the descriptor was last unlocked and kept open (idle), or undefined while it is in use or closed. */
  idleSince: number | undefined
  /** Tasks of this process currently inside a path lock on this stripe. The OS lock is held while > 0. */
  holders: number
  /** Set while one task of this process polls for the OS lock; the others wait on it instead of polling too. */
  acquiring: Promise<void> | undefined
}

/**
 * An unlocked stripe descriptor is kept open this long (ms) after its last use, so a burst of writes pays
 * flock/unlock per file instead of open/flock/close. Then it is closed: idle descriptors must never be what a
 * process waiting for a free descriptor (graceful-fs's EMFILE queue, our own opens) waits for forever.
 */
export const IDLE_CLOSE_MS = 100

/** Options of {@link StripeLocks}. */
export interface StripeLockOptions {
  /** How long an unlocked descriptor stays open (default {@link IDLE_CLOSE_MS}). */
  idleCloseMs?: number
  /** Test-only: called after idle descriptors were closed by the timer. */
  onIdleClosed?: () => void
}

/** Called when the OS lock is held by another process and this one starts to poll. */
export type OnContended = () => void | Promise<void>

/**
 * Cross-process exclusion with `flock(2)` on a fixed set of lock files, `<root>/locks/00` … `ff`.
 *
 * Why flock: the kernel drops the lock when the holder dies (SIGKILL included), so a crashed install never leaves
 * the store locked, and there is no stale-lock heuristic to get wrong.
 *
 * Why non-blocking polling: a blocking `flock` would have to run on libuv's thread pool (4 threads by default) and
 * sit there for as long as another process holds the lock; a handful of waiters would then stall every other
 * `fs` call of the process. `LOCK_EX|LOCK_NB` returns at once, and waiting happens on timers.
 *
 * Why the in-process holder count: flock locks belong to the open file description. Tasks of this process share
 * one descriptor per stripe while any of them holds it, so two of them locking different paths of the same stripe
 * share the OS lock, which is correct because the in-process per-path mutex already keeps tasks on the same path
 * apart. Other processes (and other worker threads, which open their own descriptors) are excluded.
 */
export class StripeLocks {
  readonly #dir: string
  readonly #stripes: Stripe[] = []
  readonly #wait: WaitOptions
  readonly #idleCloseMs: number
  readonly #onIdleClosed: (() => void) | undefined
  #idleTimer: NodeJS.Timeout | undefined
  #closed = false

  /** `wait`: told who holds a stripe once a wait passes `REPORT_WAIT_AFTER_MS`; give up after its `timeoutMs`. */
  constructor (locksDir: string, wait: WaitOptions = {}, options: StripeLockOptions = {}) {
    this.#dir = locksDir
    this.#wait = wait
    this.#idleCloseMs = options.idleCloseMs ?? IDLE_CLOSE_MS
    this.#onIdleClosed = options.onIdleClosed
    for (let i = 0; i < STRIPE_COUNT; i++) {
      this.#stripes.push({ fd: undefined, idleSince: undefined, holders: 0, acquiring: undefined })
    }
  }

  /** Descriptors open right now, in use or idle (for tests: they must all be given back when idle). */
  get openDescriptors (): number {
    return this.#stripes.filter(s => s.fd !== undefined).length
  }

  /**
   * Takes (or joins this process's hold on) stripe `index`'s OS lock. Pair with {@link release}. `key` (the
   * content path) names what is waited for in wait reports and `ERR_CAS_LOCK_TIMEOUT`; `started`, when the
   * caller began to wait (the timeout counts from it).
   */
  async acquire (index: number, onContended?: OnContended, key = `stripe ${index}`, started = Date.now()): Promise<void> {
    const stripe = this.#stripes[index]!
    for (;;) {
      if (this.#closed) throw new StoreClosedError()
      if (stripe.holders > 0) {
        stripe.holders++
        return
      }
      if (stripe.acquiring !== undefined) {
        await stripe.acquiring.catch(() => {})
        continue
      }
      const attempt = this.#lockOs(stripe, index, onContended, key, started)
      stripe.acquiring = attempt
      try {
        // #lockOs sets holders = 1 synchronously with taking the lock, so no other task can see the OS lock held
        // with nobody counted as its holder.
        await attempt
        return
      } finally {
        stripe.acquiring = undefined
        // Gave up (a timeout, the store closed): the descriptor it polled with is idle now, not lost.
        if (stripe.holders === 0 && stripe.fd !== undefined && stripe.idleSince === undefined) {
          if (this.#closed) {
            unlockFd(stripe.fd)
            stripe.fd = undefined
          } else {
            this.#markIdle(stripe)
          }
        }
      }
    }
  }

  /**
   * Takes (or joins) stripe `index`'s OS lock only if that needs no waiting; true when taken. Pair a true with
   * {@link release}.
   */
  tryAcquireSync (index: number): boolean {
    if (this.#closed) throw new StoreClosedError()
    const stripe = this.#stripes[index]!
    if (stripe.holders > 0) {
      stripe.holders++
      return true
    }
    if (stripe.acquiring !== undefined) return false
    const fd = this.#fd(stripe, index)
    if (fd === undefined) return false
    if (tryFlock(fd)) {
      stripe.holders = 1
      return true
    }
    unlockFd(fd) // nobody here holds or polls this stripe: do not keep its descriptor
    stripe.fd = undefined
    stripe.idleSince = undefined
    return false
  }

  /** Leaves stripe `index`; the OS lock is dropped when the last task of this process leaves. */
  release (index: number): void {
    const stripe = this.#stripes[index]!
    if (stripe.holders <= 0) throw new Error(`cas-store internal error: stripe ${index} released more than taken`)
    if (--stripe.holders === 0 && stripe.fd !== undefined) {
      // Unlock, and keep the descriptor for the next lock of this stripe (open/close cost more than the flock
      // itself). Kept only briefly: the idle timer closes it, and so does any open that meets EMFILE, so idle
      // descriptors can never be what a process out of descriptors waits for.
      if (this.#closed) {
        unlockFd(stripe.fd) // the store closed while this task held the lock: nothing is kept now
        stripe.fd = undefined
        return
      }
      flockSync(stripe.fd, 'un')
      this.#markIdle(stripe)
    }
  }

  #markIdle (stripe: Stripe): void {
    stripe.idleSince = Date.now()
    this.#scheduleIdleClose()
  }

  /** Closes every unlocked descriptor kept open (all of them when `olderThanMs` is 0); returns how many. */
  closeIdle (olderThanMs = 0): number {
    const now = Date.now()
    let closed = 0
    for (const stripe of this.#stripes) {
      if (stripe.fd === undefined || stripe.idleSince === undefined || stripe.holders > 0) continue
      if (stripe.acquiring !== undefined || now - stripe.idleSince < olderThanMs) continue
      unlockFd(stripe.fd)
      stripe.fd = undefined
      stripe.idleSince = undefined
      closed++
    }
    return closed
  }

  #scheduleIdleClose (): void {
    if (this.#idleTimer !== undefined || this.#closed) return
    this.#idleTimer = setTimeout(() => {
      this.#idleTimer = undefined
      this.closeIdle(this.#idleCloseMs)
      if (this.#stripes.some(s => s.idleSince !== undefined)) this.#scheduleIdleClose()
      else this.#onIdleClosed?.()
    }, this.#idleCloseMs)
    this.#idleTimer.unref() // never what keeps a process alive
  }

  /** Closes every lock file; the kernel drops any OS lock still held with it. */
  close (): void {
    this.#closed = true
    clearTimeout(this.#idleTimer)
    this.#idleTimer = undefined
    for (const stripe of this.#stripes) {
      // A stripe still held by a task (a verifier hashing under the lock) keeps its descriptor, and so its OS
      // lock, until that task releases it: closing it now would let another process in mid-critical-section.
      if (stripe.fd !== undefined && stripe.holders === 0) {
        fs.closeSync(stripe.fd)
        stripe.fd = undefined
        stripe.idleSince = undefined
      }
    }
  }

  async #lockOs (
    stripe: Stripe, index: number, onContended: OnContended | undefined, key: string, started: number,
  ): Promise<void> {
    await waitForLock(() => {
      if (this.#closed) throw new StoreClosedError()
      // Out of descriptors (EMFILE): try again later, as graceful-fs does.
      const fd = this.#fd(stripe, index)
      if (fd === undefined || !tryFlock(fd)) return false
      stripe.holders = 1
      return true
    }, {
      key,
      holder: () => flockHolder(this.#file(index)),
      reportAfterMs: REPORT_WAIT_AFTER_MS,
      maxBackoffMs: 32,
      started,
      onFirstMiss: onContended,
    }, this.#wait)
  }

  /** Opens a lock file; out of descriptors, first gives back the idle ones this store keeps, then tries again. */
  #open (file: string): number {
    try {
      return openLockFile(file)
    } catch (err) {
      if (!isFdExhaustion(err) || this.closeIdle() === 0) throw err
      return openLockFile(file)
    }
  }

  #file (index: number): string {
    return path.join(this.#dir, index.toString(16).padStart(2, '0'))
  }

  /** The stripe's lock file descriptor, opened on first use; undefined while the process is out of descriptors. */
  #fd (stripe: Stripe, index: number): number | undefined {
    if (stripe.fd !== undefined && stripe.idleSince !== undefined) {
      stripe.idleSince = undefined
      // A kept descriptor must still name the lock file other processes open: if `locks/` was deleted meanwhile,
      // locking the old inode would exclude nobody. One fstat, cheaper than the open it saves.
      if (fs.fstatSync(stripe.fd).nlink === 0) {
        unlockFd(stripe.fd)
        stripe.fd = undefined
      }
    }
    if (stripe.fd === undefined) {
      const file = this.#file(index)
      try {
        stripe.fd = this.#open(file)
      } catch (err) {
        if (isFdExhaustion(err)) return undefined
        if (errorCode(err) !== 'ENOENT') throw new LockFileError(file, err as NodeJS.ErrnoException)
        // The locks folder was removed under us (a user cleaning up); lock files carry no data, so recreate it.
        try {
          fs.mkdirSync(this.#dir, { recursive: true })
          stripe.fd = this.#open(file)
        } catch (again) {
          throw new LockFileError(file, again as NodeJS.ErrnoException)
        }
      }
    }
    return stripe.fd
  }
}
