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

const INTEGRITY_KEY = /^[a-z0-9]+-[A-Za-z0-9+/=]+\t[^\t\n\0]+$/
// pnpm 11/12 file every index under `<a>\t<b>`: `<integrity>\t<pkgId>` for registry packages and tarball URLs
// with an integrity, and `<pkgId>\tbuilt` / `<pkgId>\tnot-built` for git-hosted packages and tarballs without
// one (their content depends on whether build scripts ran). Any such key is read, verified and repaired.
const ANY_PNPM_KEY = /^[^\t\n\0]+\t[^\t\n\0]+$/
const MAX_KEY_LENGTH = 8192

/**
 * Splits a `<integrity>\t<pkgId>` key made by {@link packageIndexKey}; throws `ERR_CAS_INVALID_ARGUMENT` for
 * anything else (a git-hosted key, `<pkgId>\tbuilt`, has no integrity to give).
 */
export function parsePackageIndexKey (key: string): PackageIndexKeyParts {
  assertPackageIndexKey(key)
  if (!INTEGRITY_KEY.test(key)) {
    throw new InvalidArgumentError(`${JSON.stringify(key.slice(0, 200))} is a package index key without an integrity (a git-hosted package's)`)
  }
  const tab = key.indexOf('\t')
  return { integrity: key.slice(0, tab), pkgId: key.slice(tab + 1) }
}

/**
 * True for every key shape pnpm 11/12 write: `<integrity>\t<pkgId>`, and `<pkgId>\tbuilt` / `<pkgId>\tnot-built`
 * (git-hosted packages): two non-empty parts, one tab, no newline or NUL.
 */
export function isPackageIndexKey (key: unknown): boolean {
  return typeof key === 'string' && key.length <= MAX_KEY_LENGTH && ANY_PNPM_KEY.test(key)
}

/** Returns `key` when {@link isPackageIndexKey} holds, else throws `ERR_CAS_INVALID_ARGUMENT`. */
export function assertPackageIndexKey (key: unknown): string {
  if (!isPackageIndexKey(key) || typeof key !== 'string') {
    throw new InvalidArgumentError(
      `Not a package index key: ${JSON.stringify(String(key).slice(0, 200))}. ` +
      'Use "<tarball integrity>\\t<name>@<version>", e.g. packageIndexKey(integrity, "left-pad@1.3.0"), or ' +
      'pnpm\'s "<pkgId>\\tbuilt" for a git-hosted package.')
  }
  return key
}
