import fs from 'node:fs'
import { FileAccessError } from '../errors.js'
import { errorCode } from '../util/fs.js'
import { asidePathOf } from './stageNames.js'

/** Errors of `rename(stage, target)` that mean "something is already at the target". */
const OCCUPIED = new Set(['ENOTEMPTY', 'EEXIST', 'ENOTDIR', 'EISDIR', 'EPERM'])
const MAX_ATTEMPTS = 100

/**
 * Moves the finished folder `stage` to `target`, whole or not at all. Returns true when `stage` became the
 * target, false when a complete target was kept instead (and `stage` removed).
 *
 * - Nothing at the target: one `rename`. Of concurrent importers, the first rename wins.
 * - Something there: if it is complete (`isComplete`) and not `force`d, keep it and drop ours. Otherwise move it
 *   aside to a name of our own, rename ours in, and remove the old one. Between the two renames a reader sees no
 *   folder, never a mixed one. Only the target found at the start is replaced under `force`: a complete one that
 *   a concurrent importer renames in meanwhile is as fresh as ours, so it is kept (no endless swapping).
 * - Raced away (ENOENT moving the old one aside: someone else moved it): try again.
 * EEXIST/ENOTEMPTY never reach the caller; any other failure removes `stage` and throws `ERR_CAS_FILE_ACCESS`.
 * The old target goes to `asidePathOf(stage)`, one name per call (a second one, when others keep putting an
 * incomplete target back, first removes the first). `kept` is told of that folder when it cannot be removed.
 */
export async function placeDir (
  stage: string, target: string, force: boolean, isComplete: () => Promise<boolean>,
  kept: (folder: string) => void = () => {},
): Promise<boolean> {
  let replace = force
  const aside = asidePathOf(stage)
  let movedAside = false
  try {
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      try {
        fs.renameSync(stage, target)
        return true
      } catch (err) {
        if (!OCCUPIED.has(errorCode(err) ?? '')) throw new FileAccessError(target, err as NodeJS.ErrnoException)
      }
      if (!replace && await isComplete()) {
        fs.rmSync(stage, { recursive: true, force: true })
        return false
      }
      // Ours alone, and nobody reads it: it can go now, so the next old target can take its name.
      if (movedAside) await removeAside(aside)
      try {
        fs.renameSync(target, aside)
        movedAside = true
      } catch (err) {
        if (errorCode(err) !== 'ENOENT') throw new FileAccessError(target, err as NodeJS.ErrnoException)
      }
      replace = false
    }
    throw new FileAccessError(target, Object.assign(new Error('other processes kept replacing it'), { code: 'EBUSY' }))
  } catch (err) {
    fs.rmSync(stage, { recursive: true, force: true })
    throw err
  } finally {
    if (movedAside) await removeAside(aside).catch(() => { kept(aside) })
  }
}

async function removeAside (aside: string): Promise<void> {
  try {
    await fs.promises.rm(aside, { recursive: true, force: true })
  } catch (err) {
    throw new FileAccessError(aside, err as NodeJS.ErrnoException)
  }
}
