import type { StoreContext } from '../context.js'
import type { IndexBackend } from '../pkgIndex/backend.js'
import { contentKey } from './contentKey.js'
import { referencedContent } from './referencedContent.js'
import { walkContent } from './walkContent.js'

/** What {@link storeStats} counts. */
export interface StoreStats {
  root: string
  format: 'v10' | 'v11'
  /** Content files on disk, and their bytes. */
  files: number
  bytes: number
  /** Package indexes. */
  packages: number
  /** File entries across all packages, and the bytes they would take if nothing were shared. */
  references: number
  referencedBytes: number
  /** Content files used by two or more package files, and the bytes sharing saves (referencedBytes - unique). */
  sharedFiles: number
  savedBytes: number
  /** Content files no index references. */
  orphans: number
  /** Package indexes that could not be read (not counted above; `cas verify --fix` deletes them). */
  unreadableIndexes: number
}

/**
 * Counts the store's files and packages and how much the packages share. An unreadable index is counted apart
 * and does not stop the count (its files may then show as unreferenced).
 */
export async function storeStats (ctx: StoreContext, indexes: IndexBackend): Promise<StoreStats> {
  let unreadableIndexes = 0
  const { uses, packages } = await referencedContent(indexes, undefined, () => { unreadableIndexes++ })
  let references = 0
  let referencedBytes = 0
  let uniqueBytes = 0
  let sharedFiles = 0
  for (const use of uses.values()) {
    references += use.refs
    referencedBytes += use.refs * use.size
    uniqueBytes += use.size
    if (use.refs > 1) sharedFiles++
  }
  let files = 0
  let bytes = 0
  let orphans = 0
  for await (const entry of walkContent(ctx.root)) {
    if (entry.digest === undefined) continue
    files++
    bytes += entry.stat.size
    if (!uses.has(contentKey(entry.digest, entry.exec))) orphans++
  }
  return {
    root: ctx.root,
    format: indexes.format,
    files,
    bytes,
    packages,
    references,
    referencedBytes,
    sharedFiles,
    savedBytes: referencedBytes - uniqueBytes,
    orphans,
    unreadableIndexes,
  }
}
