import fs from 'node:fs'
import path from 'node:path'
import { FileAccessError } from '../errors.js'
import { errorCode } from '../util/fs.js'
import { uniqueId } from '../layout/tempName.js'

/** Infix of an import's temp folders, next to the target: `.<name>.cas-import-<unique id>`. */
export const IMPORT_TEMP_INFIX = '.cas-import-'
/** Infix of a replaced target on its way out: `.<name>.cas-old-<unique id>`. */
export const IMPORT_OLD_INFIX = '.cas-old-'

/**
 * A sibling of `target` that belongs to this call alone (pid, thread, counter and random bytes: the writer's temp
 * name rules). Hidden (leading dot) and never a valid package name, so no resolver or `.bin` linker mistakes it
 * for a package while it exists.
 */
export function siblingPath (target: string, infix: string): string {
  return path.join(path.dirname(target), `.${path.basename(target)}${infix}${uniqueId()}`)
}

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
 */
export async function placeDir (
  stage: string, target: string, force: boolean, isComplete: () => Promise<boolean>,
): Promise<boolean> {
  let replace = force
  const removals: string[] = []
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
      const aside = siblingPath(target, IMPORT_OLD_INFIX)
      try {
        fs.renameSync(target, aside)
        removals.push(aside)
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
    for (const old of removals) await fs.promises.rm(old, { recursive: true, force: true }).catch(() => {})
  }
}
