import { InvalidArgumentError } from '../errors.js'

/** The parts of a package index key: the tarball's integrity and the package id. */
export interface PackageIndexKeyParts {
  /** SRI string of the package tarball (`sha512-<base64>`). */
  integrity: string
  /** `name@version` for registry packages; the specifier (`file:…`, a git URL…) for others. */
  pkgId: string
}

/**
 * The key pnpm 11/12 file a package's index under in `index.db`: `<tarball integrity>\t<pkgId>`. The integrity
 * comes first so that two packages with one name and version but different bytes (a republished or patched
 * tarball) never share a row.
 */
export function packageIndexKey (integrity: string, pkgId: string): string {
  return assertPackageIndexKey(`${integrity}\t${pkgId}`)
}

/** Splits a key made by {@link packageIndexKey}; throws `ERR_CAS_INVALID_ARGUMENT` for anything else. */
export function parsePackageIndexKey (key: string): PackageIndexKeyParts {
  assertPackageIndexKey(key)
  const tab = key.indexOf('\t')
  return { integrity: key.slice(0, tab), pkgId: key.slice(tab + 1) }
}

/** Returns `key` when it has the `<integrity>\t<pkgId>` shape, else throws `ERR_CAS_INVALID_ARGUMENT`. */
export function assertPackageIndexKey (key: unknown): string {
  if (typeof key !== 'string' || !/^[a-z0-9]+-[A-Za-z0-9+/=]+\t[^\t\n]+$/.test(key)) {
    throw new InvalidArgumentError(
      `Not a package index key: ${JSON.stringify(String(key).slice(0, 200))}. ` +
      'Use "<tarball integrity>\\t<name>@<version>", e.g. packageIndexKey(integrity, "left-pad@1.3.0").')
  }
  return key
}
