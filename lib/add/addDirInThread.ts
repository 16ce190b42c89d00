import { taskContext } from '../threads/threadStores.js'
import type { ThreadStoreSpec } from '../threads/types.js'
import { dropSteps } from '../write/completeStep.js'
import { ensureFile } from '../write/ensureFile.js'
import type { LockedStep } from '../context.js'
import { openApproved, type Approved } from './openApproved.js'

/*
 * A folder's files as a store thread adds them (see `threads/threadPool.ts`): the same `openApproved` and
 * `ensureFile` the calling thread runs, with the writer's locked steps handed back (`LockedStep` in `context.ts`). Kept
 * apart from the tarball task so a thread that adds folders never loads the tar parser.
 */

/** One file added by a thread, up to its locked step: what the package index needs, and the step. */
export interface AddedInThread {
  digest: string
  size: number
  checkedAt: number
  mode: number
  step: LockedStep
}

/**
 * Adds each approved file up to its locked step; null for a file that failed, which the calling thread then adds
 * itself (an error's class and fields do not cross a thread boundary, and the caller must throw the real one).
 */
export async function addApprovedFiles (
  payload: { store: ThreadStoreSpec, files: Approved[] },
): Promise<Array<AddedInThread | null>> {
  const out: Array<AddedInThread | null> = []
  for (const file of payload.files) {
    const handOff: LockedStep[] = []
    try {
      // No wait for a free descriptor at this open: a file that meets EMFILE is handed back (null) at once and the
      // calling thread adds it, waiting there. Waiting here would wait once per file of the task (512 of them), and
      // the add, a failed add's clean-up and the store's close all wait for the task. (The temp file's open, in
      // ensureFile, still waits through graceful-fs: only once the source is open.)
      const { content, mode } = await openApproved(file, { giveUpAfterMs: 0 })
      const added = await ensureFile(taskContext(payload.store, handOff), content, { mode })
      out.push({ digest: added.digest, size: added.size, checkedAt: added.checkedAt, mode, step: handOff[0]! })
    } catch {
      dropSteps(handOff)
      out.push(null)
    }
  }
  return out
}

/** Nothing: running it loads this module in a thread ahead of its first task (see `StoreThreads.prepare`). */
export function ready (): void {}
