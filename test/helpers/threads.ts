// Store contexts on a thread pool the test holds (to count its tasks, make its threads die, see how many run),
// and the hooks that make a bulk add hand work to its threads for sure.
import { createStoreContext, type StoreContext } from '../../lib/context.js'
import { StoreThreads } from '../../lib/threads/storeThreads.js'
import { ThreadPool } from '../../lib/threads/threadPool.js'
import type { TestHooks } from '../../lib/util/hooks.js'
import { signal } from './gate.js'

/** The store threads' own module (what `openStore` gives its pool to close with). */
export const THREAD_STORES = new URL('../../lib/threads/threadStores.ts', import.meta.url)

/** A store context on `root` whose threads run on `pool`; `done` closes both. */
export function contextOnPool (root: string, pool: ThreadPool, hooks: TestHooks = {}): {
  ctx: StoreContext, pool: ThreadPool, done: () => Promise<void>
} {
  const spec = { root, fsync: false }
  const threads = new StoreThreads(pool, spec)
  const ctx = { ...createStoreContext({ ...spec, hooks }), threads }
  return { ctx, pool, done: async () => { await threads.close(); ctx.lock.close() } }
}

/** {@link contextOnPool} with two store threads of its own. */
export function threadedContext (root: string, hooks: TestHooks = {}): ReturnType<typeof contextOnPool> {
  return contextOnPool(root, new ThreadPool(2, THREAD_STORES), hooks)
}

/**
 * Hooks for a bulk add whose threads must take work: the calling thread's first slice waits until the threads are
 * ready, and then goes to them. Without it, a small folder is all added on the calling thread while they boot.
 */
export function threadsFirst (extra: TestHooks = {}): TestHooks {
  const ready = signal()
  return { 'add:threadsReady': ready.signal, 'add:here': async () => { await ready.signalled }, ...extra }
}
