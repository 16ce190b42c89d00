import path from 'node:path'

/** The store format version folder this library reads and writes (pnpm 11 and 12). */
export const STORE_VERSION = 'v11'

/**
 * Resolves a store directory the way pnpm does: `<dir>/v11`, unless `dir` already is the `v11` folder.
 * Always absolute, so paths handed out by the store stay valid if the caller later changes directory.
 */
export function resolveStoreRoot (dir: string): string {
  const abs = path.resolve(dir)
  return path.basename(abs) === STORE_VERSION ? abs : path.join(abs, STORE_VERSION)
}
