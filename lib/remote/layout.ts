import crypto from 'node:crypto'
import { assertDigestHex } from '../digest/sri.js'

/**
 * Where things live on the remote cache, relative to its base URL. Plain paths a WebDAV server (nginx with
 * `dav_methods PUT`) stores as files, so the server needs no code of ours:
 *
 * - `files/<2 hex>/<126 hex>`: a content file, named by the sha512 of its bytes (the store's own layout, without
 *   the `-exec` suffix: the mode belongs to the package index, and one blob serves both modes).
 * - `index/<2 hex>/<62 hex>`: a package index (see `indexCodec.ts`), named by the sha256 of its key
 *   (`<tarball integrity>\t<pkgId>`): a key holds a tab and slashes, and a hash makes any key a safe file name.
 *
 * Both are sharded by their first two hex characters so no server folder grows past a few thousand entries.
 */
export const REMOTE_LAYOUT_VERSION = 1

/** The path of a content file, relative to the remote's base URL. */
export function remoteFilePath (digestHex: string): string {
  assertDigestHex(digestHex)
  return `files/${digestHex.slice(0, 2)}/${digestHex.slice(2)}`
}

/** The path of a package index, relative to the remote's base URL. */
export function remoteIndexPath (key: string): string {
  const hash = crypto.createHash('sha256').update(key).digest('hex')
  return `index/${hash.slice(0, 2)}/${hash.slice(2)}`
}
