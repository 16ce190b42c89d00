import fs from 'node:fs'
import fsExt from 'fs-ext'

/*
 * The OS half of every lock in cas-store: flock(2) taken with LOCK_NB and retried on timers. A blocking flock
 * would have to run on one of libuv's 4 threads for as long as another process holds the lock, stalling every
 * other fs call of the process; LOCK_NB returns at once. The kernel drops a lock when its holder dies.
 */

/** Opens (creating) a lock file for reading and writing. */
export function openLockFile (file: string): number {
  return fs.openSync(file, fs.constants.O_RDWR | fs.constants.O_CREAT, 0o666)
}

/** Tries to take an exclusive flock on `fd` without waiting; false if another open file description holds it. */
export function tryFlock (fd: number): boolean {
  try {
    fsExt.flockSync(fd, 'exnb')
    return true
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code
    if (code === 'EAGAIN' || code === 'EWOULDBLOCK') return false
    throw err
  }
}

/** Drops the lock by closing its descriptor (closing the last descriptor of the description releases the flock). */
export function unlockFd (fd: number): void {
  fs.closeSync(fd)
}

/**
 * Waits before retry number `attempt`. The first retries only yield to the event loop (a path lock is held for
 * one rename, typically microseconds); later ones sleep 1, 2, 4 … `maxMs` ms with jitter, so several waiting
 * processes do not retry in lockstep.
 */
export async function backoff (attempt: number, maxMs = 32): Promise<void> {
  if (attempt < 3) {
    await new Promise<void>(resolve => setImmediate(resolve))
    return
  }
  const ceiling = Math.min(maxMs, 2 ** (attempt - 3))
  await new Promise<void>(resolve => setTimeout(resolve, ceiling / 2 + Math.random() * ceiling / 2))
}
