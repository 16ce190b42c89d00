import path from 'node:path'
import type { WaitOptions } from './lock/lockWait.js'
import { PathLock } from './lock/pathLock.js'
import type { RemoteTier } from './remote/remoteTier.js'
import type { StoreThreads } from './threads/storeThreads.js'
import type { TestHooks } from './util/hooks.js'
import type { LockedStep } from './write/handOff.js'
import { TempOwner } from './write/tempOwner.js'

/**
 * What the store's verbs share: where the store is, its lock, its options, and its two test seams (pause points
 * and the clock), which enter here once and reach every verb and the lock through it. Internal.
 */
export interface StoreContext {
  /** Absolute store root (the `v11` folder). */
  readonly root: string
  /** Where temp files are written: inside the root, so `rename` into `files/` never crosses a filesystem. */
  readonly tmpDir: string
  readonly lock: PathLock
  /** fsync temp files before rename and directories after. */
  readonly fsync: boolean
  /** Test-only pause points (`lib/util/hooks.ts`); undefined in production. */
  readonly hooks: TestHooks | undefined
  /** The remote cache tier, when the store was opened with `remote` (read-through and write-behind). */
  readonly remote?: RemoteTier
  /** The clock ages are judged by (grace periods); `Date.now` unless a test injects one. */
  readonly now: () => number
  /** This store's claim on its temp files, held from the first one on (see `write/tempOwner.ts`). */
  readonly tempOwner?: TempOwner
  /** Opened read-only: the verifier reports corrupt content and never removes it. */
  readonly readOnly?: boolean
  /**
   * Set only in a store thread's context: the writer's locked steps are recorded here for the calling thread to
   * run (`write/handOff.ts`), because store threads take no OS lock.
   */
  readonly handOff?: LockedStep[]
  /** Worker threads for bulk adds (a folder, a tarball), started on first use; undefined with `threads: 0`. */
  readonly threads?: StoreThreads
}

/** How {@link createStoreContext} sets a store up. */
export interface StoreContextOptions {
  root: string
  fsync: boolean
  hooks?: TestHooks | undefined
  now?: (() => number) | undefined
  /** False only for the benchmark's lock-free baseline. */
  locks?: boolean
  /** Read-only: no lock (nothing is ever removed or written), no temp owner record. */
  readOnly?: boolean
  /** Long path-lock waits: who to tell, and when to give up. */
  wait?: WaitOptions
}

/** The context of a store rooted at `root` (folders are created by the caller). */
export function createStoreContext (options: StoreContextOptions): StoreContext {
  const { root, hooks } = options
  const readOnly = options.readOnly === true
  return {
    root,
    tmpDir: path.join(root, 'tmp'),
    lock: new PathLock(path.join(root, 'locks'), { hooks, enabled: options.locks !== false && !readOnly, wait: options.wait }),
    fsync: options.fsync,
    hooks,
    now: options.now ?? Date.now,
    ...(readOnly ? { readOnly } : { tempOwner: new TempOwner(root) }),
  }
}
