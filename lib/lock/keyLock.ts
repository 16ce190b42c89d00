import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { errorCode, isFdExhaustion } from '../util/fs.js'
import { openLockFile, tryFlock, unlockFd } from './flock.js'
import { flockHolder, waitForLock, type LockHolder, type WaitSince } from './lockWait.js'

export type { LockHolder, WaitInfo, WaitOptions } from './lockWait.js'

/** How a key lock is polled: the longest pause between two tries (ms). Internal. */
export interface PollOptions {
  /**
   * Default 100 ms, for work that takes seconds (a clone, a large download). Work of tens of milliseconds (one
   * package) polls faster, or waiters would spend longer noticing the release than the holder spent working.
   */
  pollMaxMs?: number
  /** The store's closing state: once it has started, a wait for a lock none of its calls holds gives up. */
  closing?: StoreClosing
}

/**
 * Whether a store has begun to close (`Store.close`), and which key lock files its calls hold right now. Once
 * closing, a wait for a key lock that another holder has (another process, or another store) gives up with
 * `ERR_CAS_CLOSED`: the close waits for the calls in flight, and must not wait as long as someone else's clone or
 * download takes. A wait for a lock one of the same store's calls holds goes on: the close waits for that call
 * anyway, and the waiter then finds its work done.
 */
export interface StoreClosing {
  started: boolean
  readonly heldKeyLocks: Set<string>
}

/**
 * Runs `fn` holding an exclusive lock on `lockFile`, for work that takes long (a git clone, a download): one
 * process (and one task) does it, the others wait. Each acquisition opens its own descriptor, so tasks of one
 * process exclude each other through flock as separate processes do. The holder writes its pid, host and start
 * time into the lock file, so a waiter can say who it waits for. Waiting polls with LOCK_NB on timers: no thread
 * of libuv's pool is ever parked on it. The kernel drops the lock if the holder dies.
 *
 * The lock file exists only while the lock is wanted: the holder unlinks it, still holding the lock, before it lets
 * go. A waiter that then gets the flock finds its descriptor no longer names the file at `lockFile` (or finds no
 * file) and starts over on the current one, so the unlink never lets two holders in (see {@link lockFileAt}). A
 * holder killed by SIGKILL leaves its file behind, unlocked; the next taker reuses it and removes it.
 */
export async function withKeyLock<T> (
  lockFile: string, key: string, fn: () => Promise<T>, options: WaitSince & PollOptions = {},
): Promise<T> {
  const fd = await acquire(lockFile, key, options)
  options.closing?.heldKeyLocks.add(lockFile)
  try {
    recordHolder(fd)
    return await fn()
  } finally {
    options.closing?.heldKeyLocks.delete(lockFile)
    release(lockFile, fd)
  }
}

/** Opens `lockFile` and waits for its flock; returns the descriptor once it holds the lock on the current file. */
async function acquire (lockFile: string, key: string, options: WaitSince & PollOptions): Promise<number> {
  const started = options.since ?? Date.now()
  const { closing } = options
  const stopped = closing === undefined ? undefined : () => closing.started && !closing.heldKeyLocks.has(lockFile)
  for (;;) {
    let opened: number | undefined
    try {
      // The holder's own record says when it started; /proc/locks names it even before it has written that record.
      const holder = (): LockHolder | undefined => readHolder(lockFile) ?? flockHolder(lockFile)
      await waitForLock(() => {
        // Out of descriptors (EMFILE): wait for one like for the lock, as the stripes and graceful-fs do.
        opened ??= openUnlessExhausted(lockFile)
        return opened !== undefined && tryFlock(opened)
      }, { key, holder, started, maxBackoffMs: options.pollMaxMs, stopped }, options)
    } catch (err) {
      if (opened !== undefined) unlockFd(opened)
      throw err
    }
    const fd = opened!
    // The holder we waited for may have removed the file as it let go: then our lock is on an orphan. Start over.
    if (stillAt(lockFile, fd)) return fd
  }
}

/**
 * {@link lockFileAt}, for a descriptor whose flock was just taken: when it is not the file at the path, or the
 * check itself fails, the descriptor is closed (dropping the flock) before the answer or the error comes out.
 * A descriptor left open would keep the lock held until this process exits.
 */
function stillAt (lockFile: string, fd: number): boolean {
  let current: boolean
  try {
    current = lockFileAt(lockFile, fd)
  } catch (err) {
    unlockFd(fd)
    throw err
  }
  if (!current) unlockFd(fd)
  return current
}

/**
 * True when `fd` is the file now at `lockFile`. Why this makes removal safe: a holder unlinks its file only while
 * it holds the lock, so the file at the path is never replaced while someone holds it; a lock taken on an unlinked
 * file (a waiter that opened it before the unlink) is recognised here and dropped. The inode cannot be reused
 * for a new file meanwhile, because our open descriptor keeps the old one alive.
 */
function lockFileAt (lockFile: string, fd: number): boolean {
  const held = fs.fstatSync(fd)
  try {
    const current = fs.statSync(lockFile)
    return current.ino === held.ino && current.dev === held.dev
  } catch (err) {
    if (errorCode(err) === 'ENOENT') return false
    throw err
  }
}

/** Unlinks the lock file while still holding its lock, then drops the lock. */
function release (lockFile: string, fd: number): void {
  try {
    fs.unlinkSync(lockFile)
  } catch (err) {
    // Removed by hand meanwhile: nothing left to clean. Anything else must not keep the lock held: close anyway.
    if (errorCode(err) !== 'ENOENT') {
      unlockFd(fd)
      throw err
    }
  }
  unlockFd(fd)
}

/** {@link openCreatingDir}, or undefined when the process is out of descriptors (try again later). */
function openUnlessExhausted (lockFile: string): number | undefined {
  try {
    return openCreatingDir(lockFile)
  } catch (err) {
    if (isFdExhaustion(err)) return undefined
    throw err
  }
}

function openCreatingDir (lockFile: string): number {
  try {
    return openLockFile(lockFile)
  } catch (err) {
    if (errorCode(err) !== 'ENOENT') throw err
    // The folder was removed (a user cleaning up): lock files carry no data, so recreate it.
    fs.mkdirSync(path.dirname(lockFile), { recursive: true })
    return openLockFile(lockFile)
  }
}

function recordHolder (fd: number): void {
  const record: LockHolder = { pid: process.pid, hostname: os.hostname(), since: Date.now() }
  fs.ftruncateSync(fd, 0)
  fs.writeSync(fd, JSON.stringify(record), 0)
}

/** The holder record in a lock file, or undefined when it is empty or unreadable (a holder mid-write). */
export function readHolder (lockFile: string): LockHolder | undefined {
  try {
    const record = JSON.parse(fs.readFileSync(lockFile, 'utf8')) as LockHolder
    return typeof record.pid === 'number' ? record : undefined
  } catch {
    return undefined
  }
}

/**
 * Runs `fn` holding the lock on `lockFile` only if nobody holds it right now; returns undefined, without running
 * `fn`, when someone does. For cleanup that must never wait on, or disturb, live work (a fill in progress).
 * Like {@link withKeyLock} it leaves no lock file behind, so it also removes the file a killed holder left.
 */
export async function ifKeyLockFree<T> (lockFile: string, fn: () => Promise<T>): Promise<T | undefined> {
  for (;;) {
    const fd = openCreatingDir(lockFile)
    let locked = false
    try {
      locked = tryFlock(fd)
    } finally {
      if (!locked) unlockFd(fd)
    }
    if (!locked) return undefined
    if (!stillAt(lockFile, fd)) continue
    try {
      return await fn()
    } finally {
      release(lockFile, fd)
    }
  }
}

/**
 * True while some process holds the key lock `lockFile` (false when it is free or gone). It takes the lock for an
 * instant to find out, without creating the file: a holder that asks at that instant retries, as it would for
 * any other contender. For reports: `cas verify` must not call a running install's lock file stale.
 */
export function keyLockHeld (lockFile: string): boolean {
  let fd: number
  try {
    fd = fs.openSync(lockFile, 'r')
  } catch {
    return false // gone, or not ours to open: reported as before, and its removal judges it again
  }
  let locked = false
  try {
    locked = tryFlock(fd)
  } finally {
    unlockFd(fd)
  }
  return !locked
}

/**
 * Removes the lock files in `dir` (named `*.lock`) that nobody holds: those of killed holders whose key nobody
 * asked for again. Safe at any time, for the same reason the holders' own removal is. Returns how many it removed.
 */
export async function removeFreeKeyLocks (dir: string): Promise<number> {
  let removed = 0
  let names: string[]
  try {
    names = fs.readdirSync(dir)
  } catch (err) {
    if (errorCode(err) === 'ENOENT') return 0
    throw err
  }
  for (const name of names) {
    if (!name.endsWith('.lock')) continue
    const file = path.join(dir, name)
    if (!fs.existsSync(file)) continue
    if (await ifKeyLockFree(file, async () => true) === true) removed++
  }
  return removed
}
