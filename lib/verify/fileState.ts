import { FileAccessError } from '../errors.js'
import { hashFile } from '../util/hash.js'
import { errorCode, statOrUndefined } from '../util/fs.js'

/** What stands at a content path, compared with the content that belongs there. */
export type FileState = 'good' | 'missing' | 'wrong' | 'not-a-file'

/**
 * Stats and hashes the file at `path`. `good` means: a regular file whose bytes hash to `digest`. With `size`
 * given, a different size is `wrong` without reading (a cheap screen); with `size` undefined the bytes decide.
 * A file that vanishes between the stat and the read counts as missing.
 */
export async function fileState (path: string, digest: string, size: number | undefined): Promise<FileState> {
  let stat
  try {
    stat = statOrUndefined(path)
  } catch (err) {
    throw new FileAccessError(path, err as NodeJS.ErrnoException)
  }
  if (stat === undefined) return 'missing'
  if (!stat.isFile()) return 'not-a-file'
  if (size !== undefined && stat.size !== size) return 'wrong'
  try {
    return (await hashFile(path, stat.size)) === digest ? 'good' : 'wrong'
  } catch (err) {
    if (errorCode(err) === 'ENOENT') return 'missing'
    throw new FileAccessError(path, err as NodeJS.ErrnoException)
  }
}
