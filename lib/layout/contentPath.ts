import path from 'node:path'
import { assertDigestHex } from '../digest/sri.js'

/** True when any execute bit is set; such content is stored under a separate `-exec` name with mode 0o755. */
export function isExecutable (mode: number): boolean {
  return (mode & 0o111) !== 0
}

/** The mode a content file is written with: 0o755 for executables, 0o644 otherwise (as pnpm writes them). */
export function storedMode (mode: number): number {
  return isExecutable(mode) ? 0o755 : 0o644
}

/**
 * `files/<first 2 hex>/<remaining 126 hex>[-exec]` under `root`: pnpm's v10/v11 content layout, so a pnpm install
 * and cas-store can share one store. The digest is validated first, so nothing but hex ever reaches the path.
 */
export function contentPathFor (root: string, digestHex: string, mode: number): string {
  return contentPathOfCheckedDigest(root, assertDigestHex(digestHex), isExecutable(mode))
}

/**
 * {@link contentPathFor} for a digest the caller has just checked with `isDigestHex` (a scan of 50k files pays
 * for each regex test and each `path.join`). `root` must be absolute and normalized, as a store's root is.
 */
export function contentPathOfCheckedDigest (root: string, digestHex: string, exec: boolean): string {
  return root + path.sep + 'files' + path.sep + digestHex.slice(0, 2) + path.sep + digestHex.slice(2) +
    (exec ? '-exec' : '')
}

/** The lock stripe (0..255) that guards a content path: the first byte of its digest. */
export function stripeOfDigest (digestHex: string): number {
  return parseInt(digestHex.slice(0, 2), 16)
}
