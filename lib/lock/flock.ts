import fs from 'node:fs'
import { createRequire } from 'node:module'
import { workerData } from 'node:worker_threads'
import { NativeAddonError } from '../errors.js'

/*
 * The OS half of every lock in cas-store: flock(2) taken with LOCK_NB and retried on timers. A blocking flock
 * would have to run on one of libuv's 4 threads for as long as another process holds the lock, stalling every
 * other fs call of the process; LOCK_NB returns at once. The kernel drops a lock when its holder dies.
 */

type FlockFlags = 'sh' | 'ex' | 'shnb' | 'exnb' | 'un'
let fsExt: { flockSync: (fd: number, flags: FlockFlags) => void } | undefined

/**
 * flock(2) through fs-ext, the one place the addon is loaded, on first use. Never in a store thread (see
 * `threads/threadPool.ts`): fs-ext keeps V8 handles in static variables, and loading it in several threads of a
 * process crashes the process (SIGSEGV in its init, seen with the main thread and two workers). Store threads
 * therefore take no OS lock at all; they hand their locked steps to the calling thread (`LockedStep` in
 * `context.ts`), and this check turns a mistake into an error instead of a crash.
 */
export function flockSync (fd: number, flags: FlockFlags): void {
  loadFlock().flockSync(fd, flags)
}

/**
 * Loads fs-ext now (once per process). `openStore` calls it, so a missing native build fails the open with
 * `ERR_CAS_NATIVE_ADDON` rather than the first write with a bare module error.
 */
export function loadFlock (): NonNullable<typeof fsExt> {
  if (fsExt !== undefined) return fsExt
  if ((workerData as { casStoreThread?: boolean } | null)?.casStoreThread === true) {
    throw new Error('cas-store internal error: a store thread tried to take an OS lock; ' +
      'its locked steps must be handed to the calling thread')
  }
  try {
    fsExt = createRequire(import.meta.url)('fs-ext') as typeof fsExt
  } catch (err) {
    throw new NativeAddonError(err as Error)
  }
  return fsExt!
}

/** Opens (creating) a lock file for reading and writing. */
export function openLockFile (file: string): number {
  return fs.openSync(file, fs.constants.O_RDWR | fs.constants.O_CREAT, 0o666)
}

/** Tries to take an exclusive flock on `fd` without waiting; false if another open file description holds it. */
export function tryFlock (fd: number): boolean {
  try {
    flockSync(fd, 'exnb')
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
