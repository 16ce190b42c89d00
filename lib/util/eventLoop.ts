/** How long synchronous work may keep the event loop from running (ms) in the store-wide scans. */
export const TURN_MS = 50

/**
 * A pacer for long scans made of synchronous calls (directory listings, lstat, SQLite pages, uncontended locks).
 * Such a scan runs on microtasks alone: no timer, I/O callback or signal handler runs until it is over, so a
 * Ctrl-C handler could not abort it. `turn()` returns a promise that lets the event loop run once when at least
 * `everyMs` have gone by since it last did, else undefined (no promise is made on the hot path):
 * `const paused = pace.turn(); if (paused !== undefined) await paused`.
 */
export class EventLoopTurns {
  readonly #everyMs: number
  #last = performance.now()

  constructor (everyMs = TURN_MS) {
    this.#everyMs = everyMs
  }

  turn (): Promise<void> | undefined {
    if (performance.now() - this.#last < this.#everyMs) return undefined
    return new Promise<void>(resolve => setImmediate(() => {
      this.#last = performance.now()
      resolve()
    }))
  }
}
