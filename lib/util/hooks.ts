/**
 * Pause points: named places in the writer, verifier and lock where a test can stop one side of a race and let
 * the other side run. This is how races are reproduced deterministically, without sleeps. Production code calls
 * {@link reach} at each point; with no hooks installed that is one property read. No code branches on whether a
 * hook is installed: a paused test runs the very path production takes (the writer's synchronous fast path
 * included), only stopped at the point.
 */
export type PausePoint =
  /** Writer: temp file written and hashed, path lock not yet taken. */
  | 'writer:tempWritten'
  /** Writer: path lock held, about to rename the temp file into place. */
  | 'writer:locked'
  /** Writer (ensureFile, fetchFile): found its content already in the store, not yet claimed under the path lock. */
  | 'writer:deduped'
  /** Prune: the walk found the content unreferenced and old; path lock not yet taken (nothing re-checked yet). */
  | 'prune:candidate'
  /** Prune: path lock held, the content proven unreferenced and old, about to remove it. */
  | 'prune:locked'
  /** Verify with fix: a package's file has a "missing" verdict; about to look at the path again before repairing. */
  | 'verify:missing'
  /** Verifier: lock-free check found the file suspect (wrong size or hash); path lock not yet taken. */
  | 'verifier:suspect'
  /** Verifier: files to hash are about to be handed to the store's threads (path: the first of them). */
  | 'verifier:toThreads'
  /** Verifier: path lock held, about to re-stat and re-check. */
  | 'verifier:locked'
  /** Verifier: path lock held, the file was proven wrong, about to remove it. */
  | 'verifier:provenWrong'
  /** Import: the package verified and its temp folder made; no file materialized yet. */
  | 'import:staged'
  /** Lock: another task of this process holds the path's mutex; this one queues behind it. */
  | 'lock:queued'
  /** Lock: another process holds the OS lock; this one starts polling for it. */
  | 'lock:contended'
  /** addFilesFromDir: a directory was found to be a real directory (lstat); its entries are not read yet. */
  | 'add:dirApproved'
  /** addFilesFromDir: the folder was walked and every file approved; none has been opened yet. */
  | 'add:walked'
  /**
   * Bulk add: a store thread answered its first task of this add: its files are in temp files (or found stored),
   * none of them renamed or claimed yet (path: the task's first file).
   */
  | 'add:handedOff'
  /**
   * Bulk add: the calling thread is about to add the next slice of files itself, no store thread being ready with
   * room for it (path: the slice's first file). It looks again after the pause: a thread ready by then takes it.
   */
  | 'add:here'
  /**
   * Bulk add: the store's threads are ready for this add (booted, module loaded, owner records held; path: the
   * first file). They are handed slices only once this returns.
   */
  | 'add:threadsReady'
  /** Bulk add: a file a thread did not add is added on the calling thread (path: the file). */
  | 'add:redoneHere'
  /** Remote upload: one content file is on the server (path: its URL). */
  | 'remote:fileUploaded'
  /** Remote upload: every content file of a package is on the server, its index not yet (path: the index URL). */
  | 'remote:filesUploaded'

/** What a pause point is told: the content path (or, for remote points, the URL) concerned. */
export interface PauseInfo {
  path: string
}

/** Test-only: functions awaited when the code reaches a pause point. */
export type TestHooks = Partial<Record<PausePoint, (info: PauseInfo) => void | Promise<void>>>

/**
 * Runs the hook for `point`, if one is installed, and returns what it returned (a promise to await when it
 * pauses). With no hook it returns undefined without creating a promise, so a caller on a synchronous path can
 * stay synchronous in production: `const paused = reach(…); if (paused !== undefined) await paused`.
 */
export function reach (hooks: TestHooks | undefined, point: PausePoint, path: string): Promise<void> | undefined {
  const hook = hooks?.[point]
  if (hook === undefined) return undefined
  return Promise.resolve(hook({ path }))
}
