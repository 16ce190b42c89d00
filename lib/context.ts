import path from 'node:path'
import type { WaitOptions } from './lock/lockWait.js'
import type { StoreClosing } from './lock/keyLock.js'
import { PathLock } from './lock/pathLock.js'
import { TempOwner } from './lock/tempOwner.js'
import { ImportJournal } from './lock/importJournal.js'
import type { PackageIndex } from './types.js'
import type { TestHooks } from './util/hooks.js'

/*
 * The context names what the verbs need of the remote tier and of the store's threads as small interfaces of its
 * own, so it imports nothing from the layers that use it (remote/, threads/ and write/ all import the context).
 */

/** What a verb uses of the remote tier (`remote/remoteTier.ts`): read a package through, upload one behind. */
export interface ContextRemote {
  /** The package's index when the remote had it (now in the local store); `repair`: digests it holds wrong. */
  readThrough: (key: string) => Promise<{ index?: PackageIndex, repair?: Set<string> }>
  scheduleUpload: (key: string, index: PackageIndex, repair?: ReadonlySet<string>) => void
}

/** A module a thread loads, by URL (a `URL` is one; declared by shape so the published types need no DOM/Node). */
export interface ModuleUrl {
  readonly href: string
}

/** What a verb uses of the store's threads (`threads/storeThreads.ts`). */
export interface ContextThreads {
  readonly size: number
  /**
   * Boots the first `threads` threads (default: all) and has them load `module` ahead of a task; true once they
   * are ready, false when that failed. Never rejects.
   */
  prepare: (module: ModuleUrl, threads?: number) => Promise<boolean>
  /**
   * Runs `fn({ store, ...payload })` of `module` in a thread: one of the first `threads` (default: any), starting
   * no other. Every thread has its temp-owner record held before it gets a task.
   */
  run: <T>(module: ModuleUrl, fn: string, payload: Record<string, unknown>, threads?: number) => Promise<T>
}

/**
 * A locked step of the writer that a store thread leaves to the calling thread (see `threads/threadPool.ts`):
 * store threads take no OS lock, so the two steps of `ensureFile` that need the path lock, the rename into place
 * (`finalize`) and the claim of content found in place (`claimExisting`), are recorded in the context's `handOff`
 * list instead, and the calling thread runs them, under its own path lock (`write/completeStep.ts`). Until then
 * a handed-off file exists only as a temp file (or as content already in place), never half-written at its path.
 */
export type LockedStep =
  | { kind: 'rename', temp: string, target: string, digest: string, size: number }
  | { kind: 'claim', target: string, digest: string }

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
  readonly remote?: ContextRemote
  /** The clock ages are judged by (grace periods); `Date.now` unless a test injects one. */
  readonly now: () => number
  /** This store's claim on its temp files, held from the first one on (see `write/tempOwner.ts`). */
  readonly tempOwner?: TempOwner
  /** Where this store's imports record their temp folders for a cleaner (see `lock/importJournal.ts`). */
  readonly importJournal?: ImportJournal
  /** Opened read-only: the verifier reports corrupt content and never removes it. */
  readonly readOnly?: boolean
  /**
   * Set only in a store thread's context: the writer's locked steps are recorded here for the calling thread to
   * run (`LockedStep` in `context.ts`), because store threads take no OS lock.
   */
  readonly handOff?: LockedStep[]
  /** Worker threads for folder adds and the verifier's hashing, started on first use; undefined with `threads: 0`. */
  readonly threads?: ContextThreads
  /**
   * Whether the store has begun to close: key-lock waits (a package being added, a download, a directory entry
   * being filled) then give up, unless this store's own call holds the lock (`StoreClosing` in `lock/keyLock.ts`).
   * Path-lock waits go on: a path lock is held for a few syscalls, and a call waiting for one may be deep in work it
   * must finish (an add holding its package's lock).
   */
  readonly closing: StoreClosing
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
  const tmpDir = path.join(root, 'tmp')
  const tempOwner = readOnly ? undefined : new TempOwner(root)
  const closing: StoreClosing = { started: false, heldKeyLocks: new Set() }
  return {
    root,
    tmpDir,
    closing,
    lock: new PathLock(path.join(root, 'locks'), { hooks, enabled: options.locks !== false && !readOnly, wait: options.wait }),
    fsync: options.fsync,
    hooks,
    now: options.now ?? Date.now,
    ...(tempOwner === undefined
      ? { readOnly }
      : { tempOwner, importJournal: new ImportJournal(tmpDir, tempOwner, closing) }),
  }
}
