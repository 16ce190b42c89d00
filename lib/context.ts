import type { PathLock } from './lock/pathLock.js'
import type { TestHooks } from './util/hooks.js'
import type { TempOwner } from './write/tempOwner.js'

/** What the store's verbs share: where the store is, its lock, and its options. Internal. */
export interface StoreContext {
  /** Absolute store root (the `v11` folder). */
  readonly root: string
  /** Where temp files are written: inside the root, so `rename` into `files/` never crosses a filesystem. */
  readonly tmpDir: string
  readonly lock: PathLock
  /** fsync temp files before rename and directories after. */
  readonly fsync: boolean
  readonly hooks: TestHooks | undefined
  /** This store's claim on its temp files, held from the first one on (see `write/tempOwner.ts`). */
  readonly tempOwner?: TempOwner
  /** Opened read-only: the verifier reports corrupt content and never removes it. */
  readonly readOnly?: boolean
}
