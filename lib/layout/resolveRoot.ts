import fs from 'node:fs'
import path from 'node:path'

/** The store format version folder this library writes (pnpm 11 and 12). */
export const STORE_VERSION = 'v11'

/** pnpm 10's store folder: same content layout, JSON package indexes (read here, never written). */
export const LEGACY_STORE_VERSION = 'v10'

/**
 * Resolves a store directory the way pnpm does: `<dir>/v11`, unless `dir` already is the `v11` folder. A path
 * that names a `v10` folder is kept as it is, so pnpm 10 stores can be opened (to read and verify) by naming
 * their folder. Always absolute, so paths handed out by the store stay valid if the caller changes directory.
 */
export function resolveStoreRoot (dir: string): string {
  const abs = path.resolve(dir)
  const base = path.basename(abs)
  return base === STORE_VERSION || base === LEGACY_STORE_VERSION ? abs : path.join(abs, STORE_VERSION)
}

/** Which index format a resolved store root uses: `v10` for a pnpm 10 folder, else `v11`. */
export function storeFormatOf (root: string): 'v10' | 'v11' {
  return path.basename(root) === LEGACY_STORE_VERSION ? 'v10' : 'v11'
}

/**
 * The store root to open inside an existing store folder, without creating anything: `dir` itself when it is a
 * version folder, else its `v11` (pnpm 11/12) folder when that holds a store, else its `v10` (pnpm 10) one.
 * Undefined when there is no store there.
 */
export function findStoreRoot (dir: string): string | undefined {
  const abs = path.resolve(dir)
  const base = path.basename(abs)
  if (base === STORE_VERSION || base === LEGACY_STORE_VERSION) return isStoreRoot(abs) ? abs : undefined
  for (const version of [STORE_VERSION, LEGACY_STORE_VERSION]) {
    const root = path.join(abs, version)
    if (isStoreRoot(root)) return root
  }
  return undefined
}

function isStoreRoot (root: string): boolean {
  return ['files', 'index.db', 'index'].some(entry => fs.existsSync(path.join(root, entry)))
}
