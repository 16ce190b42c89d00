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
  for (const [name, info] of files) return { name, info }
  return undefined
}

/**
 * True when `target` already holds this package, complete. A folder this library imports appears only by
 * `rename` of a finished folder, so it is complete as soon as it exists; what remains to tell apart is a folder
 * someone else left (another version of the package, an interrupted copy by another tool). One witness file
 * decides, by its bytes, not just its presence: the `package.json` of another version differs (in its version at
 * least), and hashing a file of a few KB costs less than a stat of every file, so an install whose packages are
 * already in place skips each one in a few syscalls.
 */
export async function isCompleteTarget (target: string, witness: Witness | undefined): Promise<boolean> {
  try {
    if (witness === undefined) return statOrUndefined(target)?.isDirectory() === true
    const file = path.join(target, witness.name)
    const stat = statOrUndefined(file)
    if (stat === undefined || !stat.isFile() || stat.size !== witness.info.size) return false
    return await hashFile(file, stat.size) === witness.info.digest
  } catch {
    return false // unreadable (EACCES, a vanished file mid-read): not something to keep as it is
  }
}
