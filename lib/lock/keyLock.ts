import fs from 'node:fs'
import os from 'node:os'
import { LockTimeoutError } from '../errors.js'
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

const REPORT_EVERY_MS = 1000

/**
 * Runs `fn` holding an exclusive lock on `lockFile`, for work that takes long (a git clone, a download): one
 * process (and one task) does it, the others wait. Each acquisition opens its own descriptor, so tasks of one
 * process exclude each other through flock as separate processes do. The holder writes its pid, host and start
 * time into the lock file, so a waiter can say who it waits for. Waiting polls with LOCK_NB on timers: no thread
 * of libuv's pool is ever parked on it. The kernel drops the lock if the holder dies.
 */
export async function withKeyLock<T> (
  lockFile: string, key: string, fn: () => Promise<T>, options: WaitOptions = {},
): Promise<T> {
  const fd = openLockFile(lockFile)
  try {
    await acquire(fd, lockFile, key, options)
    recordHolder(fd)
    return await fn()
  } finally {
    unlockFd(fd)
  }
}

async function acquire (fd: number, lockFile: string, key: string, options: WaitOptions): Promise<void> {
  const started = Date.now()
  let nextReport = 0
  for (let attempt = 0; !tryFlock(fd); attempt++) {
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
    await backoff(attempt, 100)
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
 */
export async function ifKeyLockFree<T> (lockFile: string, fn: () => Promise<T>): Promise<T | undefined> {
  const fd = openLockFile(lockFile)
  try {
    if (!tryFlock(fd)) return undefined
    return await fn()
  } finally {
    unlockFd(fd)
  }
}
