import fs from 'node:fs'
import os from 'node:os'
import { openLockFile, tryFlock, unlockFd } from './flock.js'
import { flockHolder, waitForLock, type LockHolder, type WaitOptions } from './lockWait.js'

export type { LockHolder, WaitInfo, WaitOptions } from './lockWait.js'

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
  // The holder's own record says when it started; /proc/locks names it even before it has written that record.
  await waitForLock(() => tryFlock(fd), { key, holder: () => readHolder(lockFile) ?? flockHolder(lockFile) }, options)
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
