import { isDigestHex } from '../digest/sri.js'
import { isSafePackageFileName } from './fileName.js'

/** The largest mode a file can have: the file type bits and the permission bits (pnpm stores st_mode whole). */
const MAX_MODE = 0o177777

/**
 * The one rule for a file entry of a package index, held by the reader (a row that breaks it is unreadable), the
 * writer (`writePackageIndex` refuses it) and the importer alike: a safe name (`fileName.ts`), a digest of 128
 * lowercase hex characters, a size that is a safe non-negative integer, a mode that is an integer file mode, and
 * `checkedAt`, when present, a finite number. Returns what is wrong, or undefined when nothing is.
 */
export function fileEntryProblem (name: unknown, info: unknown): string | undefined {
  if (typeof name !== 'string' || !isSafePackageFileName(name)) return `its file name ${JSON.stringify(String(name))} is not a safe relative path`
  if (info === null || typeof info !== 'object') return `its entry for ${JSON.stringify(name)} is not an object`
  const { digest, size, mode, checkedAt } = info as Record<string, unknown>
  if (!isDigestHex(digest)) return `its entry for ${JSON.stringify(name)} has no sha512 digest (128 lowercase hex characters)`
  if (typeof size !== 'number' || !Number.isSafeInteger(size) || size < 0) {
    return `its entry for ${JSON.stringify(name)} has a size that is not a whole number of bytes (${String(size)})`
  }
  if (typeof mode !== 'number' || !Number.isInteger(mode) || mode < 0 || mode > MAX_MODE) {
    return `its entry for ${JSON.stringify(name)} has an impossible mode (${String(mode)})`
  }
  if (checkedAt !== undefined && (typeof checkedAt !== 'number' || !Number.isFinite(checkedAt))) {
    return `its entry for ${JSON.stringify(name)} has a checkedAt that is not a time (${String(checkedAt)})`
  }
  return undefined
}
