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
  assertDigestHex(digestHex)
  const name = digestHex.slice(2) + (isExecutable(mode) ? '-exec' : '')
  return path.join(root, 'files', digestHex.slice(0, 2), name)
}

/** The lock stripe (0..255) that guards a content path: the first byte of its digest. */
export function stripeOfDigest (digestHex: string): number {
  return parseInt(digestHex.slice(0, 2), 16)
}
