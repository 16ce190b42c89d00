import type { ModuleUrl } from '../context.js'
import { TempOwner } from '../lock/tempOwner.js'
import type { ThreadPool } from './threadPool.js'
import { siblingModule } from './threadStores.js'
import type { ThreadStoreSpec } from './types.js'

const THREAD_STORES = siblingModule(import.meta.url, 'threadStores')

/**
 * A store's threads, as the calling thread uses them for bulk adds. Before the first task it holds each thread's
 * temp-owner record (`write/tempOwner.ts`) on the thread's behalf: store threads take no OS lock, yet `cas prune`
 * must see their temp files as live work. The records are dropped when the store closes, after the threads end.
 */
export class StoreThreads {
  readonly #pool: ThreadPool
  readonly #spec: ThreadStoreSpec
  /** The owner records held, by thread owner id; each settles once its record is written. */
  readonly #owners = new Map<string, Promise<TempOwner>>()
  /** The records of the first N threads, by N: settled once each of those threads' is held. */
  readonly #holding = new Map<number, Promise<void>>()
  /** `prepare` calls, by module and thread count: each resolves once, true when the threads were made ready. */
  readonly #prepared = new Map<string, Promise<boolean>>()

  constructor (pool: ThreadPool, spec: ThreadStoreSpec) {
    this.#pool = pool
    this.#spec = spec
  }

  /** Threads this store runs once started. */
  get size (): number {
    return this.#pool.size
  }

  /**
   * Starts the first `threads` threads (default: all), if they are not running yet, holds their owner records and
   * has each load `module` (which must export `ready`), so that a task about to come does not wait for a thread to
   * boot. Resolves true once they are ready, false when that failed (the failure surfaces again in `run`); never
   * rejects, so a caller may fire and forget. Asked again, it answers the first call's promise.
   */
  async prepare (module: ModuleUrl, threads = this.size): Promise<boolean> {
    const key = `${threads} ${module.href}`
    let prepared = this.#prepared.get(key)
    if (prepared === undefined) {
      // Both at once: the module loads in each thread while this thread writes the owner records.
      prepared = Promise.all([this.#holdOwners(threads), this.#pool.runOnEach(module, 'ready', undefined, threads)])
        .then(() => true, () => false)
      this.#prepared.set(key, prepared)
    }
    return await prepared
  }

  /**
   * Runs `fn({ store, ...payload })` of `module` in a thread (see `ThreadPool.run`), on one of the first `threads`
   * threads (default: any), once those threads' owner records are held.
   */
  async run<T>(module: ModuleUrl, fn: string, payload: Record<string, unknown>, threads = this.size): Promise<T> {
    await this.#holdOwners(threads)
    return await this.#pool.run<T>(module, fn, { store: this.#spec, ...payload }, threads)
  }

  /**
   * Runs a task that creates no file (the verifier's hashing): no owner record is held for it, so it starts
   * without that round trip. Same answers and failures as {@link run}. `threads`: on one of the first `threads`
   * threads only (see `ThreadPool.run`).
   */
  async runReading<T>(module: ModuleUrl, fn: string, payload: Record<string, unknown>, threads?: number): Promise<T> {
    return await this.#pool.run<T>(module, fn, { store: this.#spec, ...payload }, threads)
  }

  /** Ends the threads, then drops their owner records. */
  async close (): Promise<void> {
    await this.#pool.close()
    for (const owner of this.#owners.values()) (await owner.catch(() => undefined))?.release()
  }

  /** Holds the owner records of the first `threads` threads (starting them): before any task that writes files. */
  async #holdOwners (threads: number): Promise<void> {
    const count = Math.max(1, Math.min(this.size, Math.floor(threads)))
    let holding = this.#holding.get(count)
    if (holding === undefined) {
      holding = this.#pool.runOnEach<string>(THREAD_STORES, 'threadOwnerId', undefined, count).then(async ids => {
        // A thread counted in several calls (the first of 1 and of 2) has one record, held once.
        for (const id of ids) {
          if (!this.#owners.has(id)) {
            const owner = new TempOwner(this.#spec.root, id)
            this.#owners.set(id, owner.hold().then(() => owner))
          }
        }
        await Promise.all(ids.map(async id => await this.#owners.get(id)))
      })
      this.#holding.set(count, holding)
    }
    await holding
  }
}
