import { Mutex } from 'async-mutex'

interface Entry {
  /**
   * Undefined while the only user is a holder that took the key with {@link MutexMap.tryAcquireSync}: the
   * uncontended case allocates no mutex. The first task to wait creates it, taken on that holder's behalf.
   */
  mutex: Mutex | undefined
  /** Tasks holding or waiting for this mutex; the entry is dropped when it reaches 0. */
  users: number
}

/**
 * One async mutex per key, for tasks of this process (this thread). An entry exists only while someone holds
 * or waits for it, so a store with millions of files does not leave millions of mutexes behind.
 */
export class MutexMap {
  readonly #entries = new Map<string, Entry>()

  /** Waits for the key's mutex; resolves to its release function (call it exactly once). */
  async acquire (key: string): Promise<() => void> {
    let held = this.#entries.get(key)
    if (held === undefined) {
      held = { mutex: new Mutex(), users: 0 }
      this.#entries.set(key, held)
    }
    const mutex = held.mutex ??= takenMutex()
    held.users++
    // Never rejects: nobody cancels these mutexes or gives them a timeout.
    const releaseMutex = await mutex.acquire()
    let released = false
    return () => {
      // async-mutex's releaser already ignores a second call; this guard keeps a second call from counting the
      // holder out of `users` twice, which would drop the entry while the next holder still has it.
      if (released) return
      released = true
      releaseMutex()
      this.#drop(key, held)
    }
  }

  /**
   * Takes `key` at once when no task holds or waits for it: returns its release function (call it exactly once),
   * or undefined (having done nothing) when it is not free. From this call on every other task queues behind
   * this holder, even if the holder then awaits something.
   */
  tryAcquireSync (key: string): (() => void) | undefined {
    if (this.#entries.has(key)) return undefined
    const held: Entry = { mutex: undefined, users: 1 }
    this.#entries.set(key, held)
    let released = false
    return () => {
      // `release()` on a mutex is not idempotent: a second call would free it under the next holder.
      if (released) return
      released = true
      held.mutex?.release()
      this.#drop(key, held)
    }
  }

  /**
   * True when some task holds `key`'s mutex right now (a new acquirer would queue). An entry exists only while
   * it has a holder: a waiter is only ever behind one, and a release hands the mutex straight to the next waiter.
   */
  isLocked (key: string): boolean {
    return this.#entries.has(key)
  }

  /** How many keys currently have holders or waiters (for tests: the map must not grow with the store). */
  get size (): number {
    return this.#entries.size
  }

  #drop (key: string, entry: Entry): void {
    // Each user counts itself out once (the releasers' guards), so the entry reaching 0 is still the key's entry.
    if (--entry.users === 0) this.#entries.delete(key)
  }
}

/**
 * A mutex already taken, for a holder that got its key without one: async-mutex takes a free mutex synchronously
 * inside `acquire()` (only the releaser comes by promise, and `release()` frees it without one), so tasks that
 * call `acquire()` after this queue behind that holder.
 */
function takenMutex (): Mutex {
  const mutex = new Mutex()
  mutex.acquire().catch(() => {}) // never rejects: nobody cancels this mutex
  return mutex
}
