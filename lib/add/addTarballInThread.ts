import type { PackageIndex } from '../types.js'
import { taskContext } from '../threads/threadStores.js'
import type { ThreadStoreSpec } from '../threads/types.js'
import { dropSteps } from '../write/completeStep.js'
import type { LockedStep } from '../context.js'
import { unpackTarball, type AddFilesFromTarballOptions } from './addFilesFromTarball.js'

/*
 * A tarball as a store thread adds it (see `threads/threadPool.ts`): the same unpacker the calling thread runs,
 * with the writer's locked steps handed back (`LockedStep` in `context.ts`).
 */

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
