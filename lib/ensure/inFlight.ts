import os from 'node:os'
import type { StoreContext } from '../context.js'
import { LockTimeoutError } from '../errors.js'
import type { LockHolder } from '../lock/keyLock.js'
import type { WaitSince } from '../lock/lockWait.js'

const REPORT_EVERY_MS = 1000

/** A piece of work under way in this process, that other tasks asking for the same key join. */
interface Flight<T> {
  promise: Promise<T>
  since: number
}

// One map per open store; a WeakMap so a closed and dropped store takes its map with it.
const flights = new WeakMap<StoreContext, Map<string, Flight<unknown>>>()

/**
 * Single flight among the async tasks of one process: the first task asking for `key` runs `work`; tasks asking
 * while it runs wait for its outcome (success or failure) instead of taking the cross-process lock themselves,
 * which would make each of them poll it. `joined` tells a caller whether it did the work or waited for it.
 * A joiner still gets `onWait` reports (naming this process as the holder) and its own `timeoutMs`, counted from
 * its own start: a flight that failed because its first task's wait for `key` timed out (`ERR_CAS_LOCK_TIMEOUT`
 * naming `key`) was that task's patience running out, not the work's outcome, so a joiner then tries again
 * itself (running `work` or joining a newer flight). `work` is told the wait options it runs under: the caller's,
 * with `since` set to when the caller began waiting (its own `since`, when it gives one: a caller that goes round),
 * so its lock's timeout and `waitedMs` go on counting from there.
 */
export async function singleFlight<T> (
  ctx: StoreContext, key: string, work: (wait: WaitSince) => Promise<T>, options: WaitSince = {},
): Promise<{ value: T, joined: boolean }> {
  let map = flights.get(ctx)
  if (map === undefined) {
    map = new Map()
    flights.set(ctx, map)
  }
  const started = options.since ?? Date.now()
  for (;;) {
    const running = map.get(key) as Flight<T> | undefined
    if (running !== undefined) {
      const outcome = await join(running, key, options, started)
      // (The first task's own frame has removed its flight by then: its reaction to the failure runs first.)
      if (outcome.leaderTimedOut) continue
      return { value: outcome.value, joined: true }
    }
    const wait = { ...options, since: started }
    const flight: Flight<T> = { promise: work(wait), since: Date.now() }
    map.set(key, flight)
    try {
      return { value: await flight.promise, joined: false }
    } finally {
      if (map.get(key) === flight) map.delete(key)
    }
  }
}

/** What a joiner got: the flight's value, or word that the flight's own lock wait timed out. */
type Joined<T> = { leaderTimedOut: false, value: T } | { leaderTimedOut: true }

async function join<T> (flight: Flight<T>, key: string, options: WaitSince, started: number): Promise<Joined<T>> {
  const outcome = flight.promise.then(
    (value): Joined<T> => ({ leaderTimedOut: false, value }),
    (err: unknown): Joined<T> => {
      // Only a timeout waiting for `key` itself: one met inside the work (a path lock of a file being added, with
      // the store's lockTimeoutMs) is the work's outcome, shared like any other failure.
      if (err instanceof LockTimeoutError && err.key === key) return { leaderTimedOut: true }
      throw err
    })
  if (options.onWait === undefined && options.timeoutMs === undefined) return await outcome
  const holder: LockHolder = { pid: process.pid, hostname: os.hostname(), since: flight.since }
  let timer: NodeJS.Timeout | undefined
  const report = (): void => {
    const now = Date.now()
    options.onWait?.({ key, holder, heldForMs: now - flight.since, waitedMs: now - started })
  }
  const waited = new Promise<never>((_resolve, reject) => {
    const tick = (): void => {
      if (options.timeoutMs !== undefined && Date.now() - started >= options.timeoutMs) {
        reject(new LockTimeoutError(key, holder, Date.now() - started))
        return
      }
      report()
      timer = setTimeout(tick, options.timeoutMs === undefined
        ? REPORT_EVERY_MS
        : Math.min(REPORT_EVERY_MS, Math.max(0, started + options.timeoutMs - Date.now())))
    }
    tick()
  })
  try {
    return await Promise.race([outcome, waited])
  } finally {
    clearTimeout(timer)
  }
}
