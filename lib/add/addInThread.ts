import type { PackageIndex } from '../types.js'
import { taskContext } from '../threads/threadStores.js'
import type { ThreadStoreSpec } from '../threads/types.js'
import { dropSteps } from '../write/completeStep.js'
import { ensureFile } from '../write/ensureFile.js'
import type { LockedStep } from '../write/handOff.js'
import { unpackTarball, type AddFilesFromTarballOptions } from './addFilesFromTarball.js'
import { openApproved, type Approved } from './openApproved.js'

/*
 * The bulk adds as a store thread runs them (see `threads/threadPool.ts`): the same `openApproved`, `ensureFile`
 * and tarball unpacking the calling thread runs, with the writer's locked steps handed back (`write/handOff.ts`).
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
      const { content, mode } = openApproved(file)
      const added = await ensureFile(taskContext(payload.store, handOff), content, { mode })
      out.push({ digest: added.digest, size: added.size, checkedAt: added.checkedAt, mode, step: handOff[0]! })
    } catch {
      dropSteps(handOff)
      out.push(null)
    }
  }
  return out
}

/**
 * Unpacks a whole tarball held in memory up to the locked steps; returns its index (without the manifest, which
 * is read back from the store once the files are in place) and the steps. Throws on any failure, after removing
 * its temp files (the calling thread then adds the tarball itself, and fails with the real error).
 */
export async function addTarballBuffer (
  payload: { store: ThreadStoreSpec, tarball: Uint8Array, options: AddFilesFromTarballOptions },
): Promise<{ index: PackageIndex, steps: LockedStep[] }> {
  const steps: LockedStep[] = []
  try {
    const index = await unpackTarball(taskContext(payload.store, steps), Buffer.from(payload.tarball.buffer,
      payload.tarball.byteOffset, payload.tarball.byteLength), payload.options)
    return { index, steps }
  } catch (err) {
    dropSteps(steps)
    throw err
  }
}
