import { createStoreContext, type StoreContext } from '../context.js'
import type { LockedStep } from '../context.js'
import { ownerId } from '../layout/tempName.js'
import type { ThreadStoreSpec } from './types.js'

/*
 * The store as a store thread sees it. Runs in the threads only (`threadPool.ts`), except `siblingModule`.
 */

/** The contexts this thread has opened, one per store spec. */
const contexts = new Map<string, StoreContext>()

/**
 * A context on the store `spec` describes, for one task, with its own `handOff` list: the writer records its
 * locked steps there instead of taking the path lock (store threads take no OS lock, see `lock/flock.ts`). It
 * has no temp-owner record of its own (the calling thread holds this thread's, see `storeThreads.ts`), no pause
 * points (they are functions of the calling thread) and no remote tier.
 */
export function taskContext (spec: ThreadStoreSpec, handOff: LockedStep[]): StoreContext {
  const key = JSON.stringify([spec.root, spec.fsync])
  let ctx = contexts.get(key)
  if (ctx === undefined) {
    const { tempOwner: _notHeldHere, importJournal: _noImportsHere, ...rest } =
      createStoreContext({ root: spec.root, fsync: spec.fsync })
    ctx = rest
    contexts.set(key, ctx)
  }
  return { ...ctx, handOff }
}

/**
 * This thread's owner id, the one its temp names carry. The pool computes it before the thread exists (and the
 * calling thread holds its record then); tests ask a thread for it to check the two agree.
 */
export function threadOwnerId (): string {
  return ownerId()
}

/** Run by the pool before it ends the thread: forgets the contexts (they hold no descriptor). */
export function closeThreadStores (): void {
  contexts.clear()
}

/** The URL of a sibling module of `base` (`import.meta.url`), in the same form (`.ts` from sources, `.js` built). */
export function siblingModule (base: string, name: string): URL {
  const ext = base.endsWith('.ts') ? '.ts' : '.js'
  return new URL(`./${name}${ext}`, base)
}
