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
