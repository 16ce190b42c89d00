import crypto from 'node:crypto'
import path from 'node:path'

/** Folder of the per-package lock files: `<root>/locks/packages`. Holds only files for work under way. */
export function packageLocksDir (root: string): string {
  return path.join(root, 'locks', 'packages')
}

/**
 * The lock file for a package index key: `<root>/locks/packages/<sha256 of the key>.lock`. Hashed because a key
 * holds a tab, slashes and any pkgId (a git URL); one fixed-length name per key. It exists only while some
 * process holds or waits for the key (`withKeyLock` removes it on release).
 */
export function packageLockFile (root: string, key: string): string {
  return path.join(packageLocksDir(root), crypto.createHash('sha256').update(key).digest('hex') + '.lock')
}
