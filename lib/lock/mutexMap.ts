import { Mutex } from 'async-mutex'

interface Entry {
  mutex: Mutex
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
    let entry = this.#entries.get(key)
    if (entry === undefined) {
      entry = { mutex: new Mutex(), users: 0 }
      this.#entries.set(key, entry)
    }
    entry.users++
    const held = entry
    let releaseMutex: () => void
    try {
      releaseMutex = await held.mutex.acquire()
    } catch (err) {
      this.#drop(key, held)
      throw err
    }
    let released = false
    return () => {
      if (released) return
      released = true
      releaseMutex()
      this.#drop(key, held)
    }
  }

  /** True when some task holds or waits for `key`'s mutex. */
  has (key: string): boolean {
    return this.#entries.has(key)
  }

  /** True when some task holds `key`'s mutex right now (a new acquirer would queue). */
  isLocked (key: string): boolean {
    return this.#entries.get(key)?.mutex.isLocked() === true
  }

  /** How many keys currently have holders or waiters (for tests: the map must not grow with the store). */
  get size (): number {
    return this.#entries.size
  }

  #drop (key: string, entry: Entry): void {
    if (--entry.users === 0 && this.#entries.get(key) === entry) this.#entries.delete(key)
  }
}
