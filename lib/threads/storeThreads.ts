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
  #owners: Promise<TempOwner[]> | undefined

  constructor (pool: ThreadPool, spec: ThreadStoreSpec) {
    this.#pool = pool
    this.#spec = spec
  }

  /** Threads this store runs once started. */
  get size (): number {
    return this.#pool.size
  }

  /**
   * Starts the threads, if they are not running yet, and has each load `module` (which must export `ready`), so
   * that a task about to come does not wait for a thread to boot. Fire and forget: failures surface in `run`.
   */
  prepare (module: ModuleUrl): void {
    this.#owners ??= this.#holdOwners()
    this.#owners.then(async () => await this.#pool.runOnEach(module, 'ready', undefined)).catch(() => {})
  }

  /** Runs `fn({ store, ...payload })` of `module` in a thread (see `ThreadPool.run`). */
  async run<T>(module: ModuleUrl, fn: string, payload: Record<string, unknown>): Promise<T> {
    this.#owners ??= this.#holdOwners()
    await this.#owners
    return await this.#pool.run<T>(module, fn, { store: this.#spec, ...payload })
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
    const owners = await this.#owners?.catch(() => [])
    for (const owner of owners ?? []) owner.release()
  }

  async #holdOwners (): Promise<TempOwner[]> {
    const ids = await this.#pool.runOnEach<string>(THREAD_STORES, 'threadOwnerId', undefined)
    const owners = ids.map(id => new TempOwner(this.#spec.root, id))
    for (const owner of owners) await owner.hold()
    return owners
  }
}
