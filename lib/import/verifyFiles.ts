import type { StoreContext } from '../context.js'
import { FileAccessError, MissingContentError } from '../errors.js'
import { statOrUndefined } from '../util/fs.js'
import { checkFile, trustedByFastPath } from '../verify/checkFile.js'
import type { PackageFile } from './packageFiles.js'

/**
 * Checks every file of the package before anything is materialized, by the verifier's rules (`checkFile`): one
 * stat per file on the fast path, synchronously (no promise per file); a file whose mtime moved past its
 * `checkedAt` is re-hashed, and proven-corrupt content is removed under the path lock, as
 * `checkPkgFilesIntegrity` would. Content paths in `verifiedFiles` are trusted; good ones are added.
 *
 * Throws `ERR_CAS_MISSING_CONTENT` naming every missing or corrupt file, so the installer fetches the package
 * again instead of linking a hole or a wrong file. Records each stat'ed store file's mode for the copy step.
 */
export async function verifyFiles (
  ctx: StoreContext, files: PackageFile[], verifiedFiles: Set<string> | undefined,
): Promise<void> {
  const bad: string[] = []
  for (const file of files) {
    if (verifiedFiles?.has(file.src) === true) continue
    const { size, checkedAt, digest } = file.info
    let stat
    try {
      stat = statOrUndefined(file.src)
    } catch (err) {
      throw new FileAccessError(file.src, err as NodeJS.ErrnoException)
    }
    if (stat === undefined) {
      bad.push(file.name)
      continue
    }
    if (trustedByFastPath(stat, size, checkedAt)) {
      file.storeMode = stat.mode & 0o7777
    } else {
      const verdict = await checkFile(ctx, file.src, digest, size, checkedAt)
      if (verdict.status !== 'good') {
        bad.push(file.name)
        continue
      }
      if (verdict.rehashed) file.info.checkedAt = Date.now()
    }
    verifiedFiles?.add(file.src)
  }
  if (bad.length > 0) throw new MissingContentError(bad)
}
