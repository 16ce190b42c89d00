import type { PathLock } from './lock/pathLock.js'
import type { RemoteTier } from './remote/remoteTier.js'
import type { TestHooks } from './util/hooks.js'

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
  /** The remote cache tier, when the store was opened with `remote` (read-through and write-behind). */
  readonly remote?: RemoteTier
}
