import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { LockTimeoutError } from '../errors.js'
import { errorCode } from '../util/fs.js'
import { backoff, openLockFile, tryFlock, unlockFd } from './flock.js'

/** Who holds a key lock, as the holder recorded it in the lock file. */
export interface LockHolder {
  pid: number
  hostname: string
  /** When it took the lock (ms since the epoch). */
  since: number
}

/** What a waiter is told while it waits for a key lock. */
export interface WaitInfo {
  key: string
  /** The current holder, when its record could be read. */
  holder: LockHolder | undefined
  /** How long the holder has held it (ms), when known. */
  heldForMs: number | undefined
  /** How long this caller has waited so far (ms). */
  waitedMs: number
}

/** Options for waiting on a key lock. */
export interface WaitOptions {
  /** Called when the lock is found held, then about once a second while waiting. */
  onWait?: (info: WaitInfo) => void
  /** Give up after this long with `ERR_CAS_LOCK_TIMEOUT` (default: wait as long as it takes). */
  timeoutMs?: number
}

/** How a key lock is polled: the longest pause between two tries (ms). Internal. */
export interface PollOptions {
  /**
   * Default 100 ms, for work that takes seconds (a clone, a large download). Work of tens of milliseconds (one
   * package) polls faster, or waiters would spend longer noticing the release than the holder spent working.
   */
  pollMaxMs?: number
}

const REPORT_EVERY_MS = 1000

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
  lockFile: string, key: string, fn: () => Promise<T>, options: WaitOptions & PollOptions = {},
): Promise<T> {
  const fd = await acquire(lockFile, key, options)
  try {
    recordHolder(fd)
    return await fn()
  } finally {
    release(lockFile, fd)
  }
}

/** Opens `lockFile` and waits for its flock; returns the descriptor once it holds the lock on the current file. */
async function acquire (lockFile: string, key: string, options: WaitOptions & PollOptions): Promise<number> {
  const started = Date.now()
  let nextReport = 0
  for (let attempt = 0; ; attempt++) {
    const fd = openCreatingDir(lockFile)
    try {
      while (!tryFlock(fd)) {
        const now = Date.now()
        const waitedMs = now - started
        if (options.timeoutMs !== undefined && waitedMs >= options.timeoutMs) {
          throw new LockTimeoutError(key, readHolder(lockFile), waitedMs)
        }
        if (options.onWait !== undefined && now >= nextReport) {
          const holder = readHolder(lockFile)
          options.onWait({ key, holder, heldForMs: holder === undefined ? undefined : now - holder.since, waitedMs })
          nextReport = now + REPORT_EVERY_MS
        }
        // From 1 ms up: a key is held for milliseconds at least, so the event-loop spins of the path lock's first
        // retries would only burn CPU.
        await backoff(3 + attempt++, options.pollMaxMs ?? 100)
      }
    } catch (err) {
      unlockFd(fd)
      throw err
    }
    if (lockFileAt(lockFile, fd)) return fd
    // The holder we waited for removed the file as it let go: our lock is on an orphan. Start over.
    unlockFd(fd)
  }
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
    if (!lockFileAt(lockFile, fd)) {
      unlockFd(fd)
      continue
    }
    try {
      return await fn()
    } finally {
      release(lockFile, fd)
    }
  }
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
