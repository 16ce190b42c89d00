import type { ModuleUrl } from '../context.js'
import { TempOwner } from '../lock/tempOwner.js'
import type { ThreadPool } from './threadPool.js'
import type { ThreadStoreSpec } from './types.js'

/**
 * A store's threads, as the calling thread uses them for bulk adds. Each thread's temp-owner record
 * (`lock/tempOwner.ts`) is held on the thread's behalf from the moment the thread is created (the pool draws the
 * random part of its owner id, so the id is known before the thread exists): store threads take no OS lock, yet
 * `cas prune` must see their temp files as live work, whichever thread ends up running a task (a thread that
 * dies is stood in for by another one, maybe one started for the verifier). The records are dropped when the
 * store closes, after the threads end.
 */
export class StoreThreads {
  readonly #pool: ThreadPool
  readonly #spec: ThreadStoreSpec
  /** The owner record of every thread created, by owner id; each settles once held. */
  readonly #owners = new Map<string, Promise<TempOwner>>()
  /** `prepare` calls, by module and thread count: each resolves once, true when the threads were made ready. */
  readonly #prepared = new Map<string, Promise<boolean>>()

  constructor (pool: ThreadPool, spec: ThreadStoreSpec) {
    this.#pool = pool
    this.#spec = spec
    // The pool gives a thread no task before its record is held, and drops it if the record cannot be: whichever
    // thread ends up running a writing task (a stand-in for a dead one, one started for the verifier), it has one.
    pool.onStart(async id => {
      const owner = new TempOwner(spec.root, id)
      const held = owner.hold().then(() => owner)
      this.#owners.set(id, held)
      await held
    })
  }

  /** Threads this store runs once started. */
  get size (): number {
    return this.#pool.size
  }

  /**
   * Starts the first `threads` threads (default: all), if they are not running yet, and has each load `module`
   * (which must export `ready`), so that a task about to come does not wait for a thread to boot. Resolves true
   * once they are ready and every thread's owner record is held, false when that failed (the failure surfaces
   * again in `run`); never rejects, so a caller may fire and forget. Asked again, it answers the first call's
   * promise, unless that one answered false: then it tries again.
   */
  async prepare (module: ModuleUrl, threads = this.size): Promise<boolean> {
    const key = `${threads} ${module.href}`
    let prepared = this.#prepared.get(key)
    if (prepared === undefined) {
      prepared = this.#pool.runOnEach(module, 'ready', undefined, threads)
        .then(() => true, () => {
          // Not remembered: one thread that died while booting must not keep the store's adds off threads.
          this.#prepared.delete(key)
          return false
        })
      this.#prepared.set(key, prepared)
    }
    return await prepared
  }

  /**
   * Runs `fn({ store, ...payload })` of `module` in a thread (see `ThreadPool.run`), on one of the first `threads`
   * threads (default: any). The thread's owner record is held by then (the pool waits for it, see the constructor).
   */
  async run<T>(module: ModuleUrl, fn: string, payload: Record<string, unknown>, threads = this.size): Promise<T> {
    return await this.#pool.run<T>(module, fn, { store: this.#spec, ...payload }, threads)
  }

  /** Ends the threads, then drops their owner records. */
  async close (): Promise<void> {
    await this.#pool.close()
    for (const owner of this.#owners.values()) (await owner.catch(() => undefined))?.release()
  }
}
