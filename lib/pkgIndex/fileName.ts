import { UnsafePathError } from '../errors.js'

/**
 * The one rule for a file name inside a package, as a package index stores it: `/`-separated, relative, no empty,
 * `.` or `..` segment, no NUL, no backslash and no drive letter. Names reach us from tarballs and from `index.db`,
 * which anyone with write access to the store can edit, so the adders, the index writer and the importer all hold
 * names to this rule before they touch the file system with them.
 */
export function isSafePackageFileName (name: string): boolean {
  // One pass over the characters, no allocation: the importer checks every name of every package it skips as
  // already in place, and `split` + `every` cost about 1 µs a name (most of such a skip). The rule is unchanged:
  // test/pkgIndex/fileName.test.ts holds this loop to the plain formulation on generated names.
  const length = name.length
  if (length === 0) return false
  if (length >= 2 && name.charCodeAt(1) === 58 /* : */ && isAsciiLetter(name.charCodeAt(0))) return false
  let segmentStart = 0
  for (let i = 0; i <= length; i++) {
    const c = i === length ? 47 : name.charCodeAt(i)
    if (c === 0 || c === 92 /* \\ */) return false
    if (c !== 47 /* / */) continue
    const segment = i - segmentStart
    if (segment === 0) return false // leading, trailing or doubled slash
    const dot = name.charCodeAt(segmentStart) === 46 /* . */
    if (dot && (segment === 1 || (segment === 2 && name.charCodeAt(segmentStart + 1) === 46))) return false
    segmentStart = i + 1
  }
  return true
}

function isAsciiLetter (c: number): boolean {
  return (c >= 65 && c <= 90) || (c >= 97 && c <= 122)
}

/** Throws `ERR_CAS_UNSAFE_PATH` unless {@link isSafePackageFileName} holds for `name`. */
export function assertSafePackageFileName (name: string): void {
  if (!isSafePackageFileName(name)) throw new UnsafePathError(name)
}
