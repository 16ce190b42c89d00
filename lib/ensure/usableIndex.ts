import type { StoreContext } from '../context.js'
import type { IndexBackend } from '../pkgIndex/backend.js'
import type { PackageIndex } from '../types.js'
import { checkPkgFilesIntegrity } from '../verify/checkPkgFilesIntegrity.js'

/** What the store has for a package: a usable index, none at all, or one whose files failed the check. */
export type StoredPackage =
  | { status: 'usable', index: PackageIndex }
  | { status: 'absent' }
  | { status: 'failed' }

/**
 * Whether the package stored under `key` can be used as it is: its index exists and, with `verify`, every file it
 * names is in the store with the right content (the verifier's fast path: a stat per file while `checkedAt` is
 * fresh). A check that had to re-hash files renews their `checkedAt`; the index is then written back, so the next
 * check is stat-only again.
 */
export async function usableIndex (
  ctx: StoreContext, indexes: IndexBackend, key: string, verify: boolean,
): Promise<StoredPackage> {
  const index = await indexes.read(key)
  if (index === undefined) return { status: 'absent' }
  if (!verify) return { status: 'usable', index }
  const before = [...index.files.values()].map(info => info.checkedAt)
  const result = await checkPkgFilesIntegrity(ctx, index)
  if (!result.passed) return { status: 'failed' }
  const renewed = [...index.files.values()].some((info, i) => info.checkedAt !== before[i])
  if (renewed && indexes.format === 'v11') await indexes.write(key, index)
  return { status: 'usable', index }
}
