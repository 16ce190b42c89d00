import { UnsafePathError } from '../errors.js'

/**
 * The one rule for a file name inside a package, as a package index stores it: `/`-separated, relative, no empty,
 * `.` or `..` segment, no NUL, no backslash and no drive letter. Names reach us from tarballs and from `index.db`,
 * which anyone with write access to the store can edit, so the adders, the index writer and the importer all hold
 * names to this rule before they touch the file system with them.
 */
export function isSafePackageFileName (name: string): boolean {
  if (name.length === 0 || name.includes('\0') || name.includes('\\')) return false
  if (name.startsWith('/') || /^[a-zA-Z]:/.test(name)) return false
  return name.split('/').every(part => part !== '' && part !== '.' && part !== '..')
}

/** Throws `ERR_CAS_UNSAFE_PATH` unless {@link isSafePackageFileName} holds for `name`. */
export function assertSafePackageFileName (name: string): void {
  if (!isSafePackageFileName(name)) throw new UnsafePathError(name)
}
