import type { StoreContext } from '../context.js'
import { unlinkQuietly } from '../util/fs.js'
import { claimExisting } from './claimExisting.js'
import { finalize } from './finalize.js'
import type { LockedStep } from '../context.js'

/**
 * Runs a step a store thread handed off (`LockedStep` in `context.ts`) on this thread, under its path lock: the
 * rename into place, or the claim. False when a claimed file was gone by then (`cas prune` took it meanwhile):
 * the caller must add that content again.
 */
export async function completeStep (ctx: StoreContext, step: LockedStep): Promise<boolean> {
  if (step.kind === 'claim') return await claimExisting(ctx, step.target, step.digest)
  await finalize(ctx, step.temp, step.target, step.digest, step.size)
  return true
}

/** Removes the temp files of handed-off steps that will not be completed (the add failed). */
export function dropSteps (steps: Iterable<LockedStep>): void {
  for (const step of steps) if (step.kind === 'rename') unlinkQuietly(step.temp)
}
