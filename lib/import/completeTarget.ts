import path from 'node:path'
import type { FileInfo } from '../types.js'
import { statOrUndefined } from '../util/fs.js'
import { hashFile } from '../util/hash.js'

/** The file whose presence, with the right bytes, marks a package folder complete. */
export interface Witness {
  name: string
  info: FileInfo
}

/**
 * The witness of a package: its `package.json` (what pnpm writes last and checks too), else its first file;
 * undefined for a package without files.
 */
export function witnessOf (files: Map<string, FileInfo>): Witness | undefined {
  const manifest = files.get('package.json')
  if (manifest !== undefined) return { name: 'package.json', info: manifest }
  const first = files.entries().next()
  return first.done === true ? undefined : { name: first.value[0], info: first.value[1] }
}

/**
 * Whether `target` already holds this package, complete: the device it is on when it does (for the method the
 * caller reports), undefined when it does not.
 *
 * A folder this library imports appears only by `rename` of a finished folder, so it is complete as soon as it
 * exists; what remains to tell apart is a folder someone else left (another version of the package, an
 * interrupted copy by another tool). One witness file decides, by its bytes, not just its presence: the
 * `package.json` of another version differs (in its version at least). Hashing a file of a few hundred bytes
 * costs less than a stat of every file, so an install whose packages are in place skips each in five syscalls.
 */
export async function completeTargetDevice (target: string, witness: Witness | undefined): Promise<number | undefined> {
  try {
    const stat = statOrUndefined(witness === undefined ? target : path.join(target, witness.name))
    if (witness === undefined) return stat?.isDirectory() === true ? stat.dev : undefined
    if (stat === undefined || !stat.isFile() || stat.size !== witness.info.size) return undefined
    const file = path.join(target, witness.name)
    // hashFile, not a bare readFileSync: out of descriptors (EMFILE), it waits for one through graceful-fs. Taken
    // for "unreadable" below, that would call a complete target incomplete, and the import would swap a new folder
    // in under whatever runs from this one.
    const digest = await hashFile(file, stat.size)
    return digest === witness.info.digest ? stat.dev : undefined
  } catch {
    return undefined // unreadable (EACCES, a file vanished mid-read): not something to keep as it is
  }
}

/** True when `target` already holds this package, complete (see {@link completeTargetDevice}). */
export async function isCompleteTarget (target: string, witness: Witness | undefined): Promise<boolean> {
  return await completeTargetDevice(target, witness) !== undefined
}
