import fs from 'node:fs'
import os from 'node:os'
import { LockTimeoutError, StoreClosedError } from '../errors.js'
import { backoff } from './flock.js'

/** Who holds a lock: as the holder recorded it (key locks), or as the kernel says (/proc/locks: pid only). */
export interface LockHolder {
  pid: number
  hostname: string
  /** When it took the lock (ms since the epoch), when it recorded that. */
  since?: number
}

/** What a waiter is told while it waits for a lock. */
export interface WaitInfo {
  /** What is locked: a key lock's key, or the content path of a path lock. */
  key: string
  /** The current holder, when known. */
  holder: LockHolder | undefined
  /** How long the holder has held it (ms), when known. */
  heldForMs: number | undefined
  /** How long this caller has waited so far (ms). */
  waitedMs: number
}

/** Options for waiting on a lock. */
export interface WaitOptions {
  /** Called when the lock is found held (after `reportAfterMs`), then about once a second while waiting. */
  onWait?: (info: WaitInfo) => void
  /** Give up after this long with `ERR_CAS_LOCK_TIMEOUT` naming the holder (default: wait as long as it takes). */
  timeoutMs?: number
}

/**
 * Internal: a wait made in several steps (a join of another task's work, then a lock of its own) says when the
 * caller began waiting, so `timeoutMs` and every report's `waitedMs` count from there, not from each step.
 */
export interface WaitSince extends WaitOptions {
  since?: number
}

const REPORT_EVERY_MS = 1000

/**
 * Polls `tryTake` (a non-blocking flock) until it succeeds, backing off on timers. While it waits it reports the
 * holder through `onWait`, first after `reportAfterMs` then every second, and past `timeoutMs` it throws
 * `ERR_CAS_LOCK_TIMEOUT` naming the holder. The one wait loop of every lock in cas-store (key locks, stripes).
 */
export async function waitForLock (
  tryTake: () => boolean,
  what: {
    key: string
    holder: () => LockHolder | undefined
    reportAfterMs?: number
    maxBackoffMs?: number
    started?: number
    /** Awaited once, after the first failed try (a test's pause point). */
    onFirstMiss?: () => void | Promise<void>
    /** Checked after each failed try: true gives up with `ERR_CAS_CLOSED` (the store is closing). */
    stopped?: () => boolean
  },
  options: WaitOptions = {},
): Promise<void> {
  const started = what.started ?? Date.now()
  let nextReport = started + (what.reportAfterMs ?? 0)
  for (let attempt = 0; !tryTake(); attempt++) {
    if (attempt === 0) await what.onFirstMiss?.()
    if (what.stopped?.() === true) throw new StoreClosedError(`the lock on ${what.key}`)
    const now = Date.now()
    const waitedMs = now - started
    if (options.timeoutMs !== undefined && waitedMs >= options.timeoutMs) {
      throw new LockTimeoutError(what.key, what.holder(), waitedMs)
    }
    if (options.onWait !== undefined && now >= nextReport) {
      const holder = what.holder()
      const heldForMs = holder?.since === undefined ? undefined : now - holder.since
      options.onWait({ key: what.key, holder, heldForMs, waitedMs })
      nextReport = now + REPORT_EVERY_MS
    }
    await backoff(attempt, what.maxBackoffMs ?? 100)
  }
}

/**
 * The process holding a flock on `file`, from /proc/locks (Linux): the lock's line names the pid and the
 * device:inode of the locked file. Undefined elsewhere, when nobody holds it, or when the holder lives in
 * another pid namespace (a container sharing the store), which /proc/locks cannot name.
 */
export function flockHolder (file: string): LockHolder | undefined {
  if (process.platform !== 'linux') return undefined
  let stat: fs.Stats
  let locks: string
  try {
    stat = fs.statSync(file)
    locks = fs.readFileSync('/proc/locks', 'utf8')
  } catch {
    return undefined
  }
  const major = Number((BigInt(stat.dev) >> 8n) & 0xfffn) | Number((BigInt(stat.dev) >> 32n) & ~0xfffn)
  const minor = Number(BigInt(stat.dev) & 0xffn) | Number((BigInt(stat.dev) >> 12n) & ~0xffn)
  for (const line of locks.split('\n')) {
    // "1: FLOCK  ADVISORY  WRITE 8426 fe:00:2147331 0 EOF" (a waiter's line has "->" after the number)
    const m = /^\d+:\s+FLOCK\s+\S+\s+\S+\s+(\d+)\s+([0-9a-f]+):([0-9a-f]+):(\d+)\s/.exec(line)
    if (m === null) continue
    if (Number(m[4]) === stat.ino && parseInt(m[2]!, 16) === major && parseInt(m[3]!, 16) === minor) {
      const pid = Number(m[1])
      if (pid > 0) return { pid, hostname: os.hostname() }
    }
  }
  return undefined
}
