import fs from 'node:fs'
import type { StoreContext } from '../context.js'
import { InterruptedError, PruneRefusedError } from '../errors.js'
import type { IndexBackend } from '../pkgIndex/backend.js'
import { stripeOfDigest } from '../layout/contentPath.js'
import { DEFAULT_GRACE_MS, isYoung } from '../util/age.js'
import { errorCode, statOrUndefined } from '../util/fs.js'
import { reach } from '../util/hooks.js'
import { contentKey } from './contentKey.js'
import { referencedContent } from './referencedContent.js'
import { removeTemp, staleTemps } from './staleTemps.js'
import { walkContent } from './walkContent.js'
import type { AbortSignalLike } from '../util/abortSignal.js'

/** Options of {@link pruneStore}. */
export interface PruneOptions {
  /** Content changed (written, or claimed by a writer) less than this long ago is kept. Default 10 minutes. */
  graceMs?: number
  /** Report what would go, remove nothing. */
  dryRun?: boolean
  /** Stop when aborted; the report says it was interrupted. */
  signal?: AbortSignalLike
  /** Prune even when the store has no package index at all (every content file then goes). */
  allowNoIndexes?: boolean
}

/** What {@link pruneStore} removed (or, dry run, would remove). */
export interface PruneReport {
  dryRun: boolean
  /** Unreferenced content files removed. */
  removed: { count: number, bytes: number }
  /** Unreferenced content kept because it changed within the grace period (an install may be about to use it). */
  keptYoung: number
  /** Stale temp files and fill folders removed. */
  tempsRemoved: number
  /** Content files some index references (kept). */
  referenced: number
  interrupted: boolean
}

/**
 * Removes content that no package index references. Safe while installs run:
 * - every index must be readable, or nothing is removed (an unreadable index's files would look unused), and a
 *   store with content but no index at all is refused unless `allowNoIndexes` (a lost index.db would look like
 *   an empty store);
 * - a file is removed only if, under its path lock, it is still there and its mtime and ctime are both more than
 *   `graceMs` older than the moment prune started reading the indexes. Writers claim content they find already
 *   stored under that same lock (a ctime bump, see `claimExisting`), and write new content fresh, so content an
 *   install was just handed is never old here, even though its index row is written only later.
 */
export async function pruneStore (
  ctx: StoreContext, indexes: IndexBackend, options: PruneOptions = {},
): Promise<PruneReport> {
  const graceMs = options.graceMs ?? DEFAULT_GRACE_MS
  const dryRun = options.dryRun === true
  const report: PruneReport = {
    dryRun, removed: { count: 0, bytes: 0 }, keptYoung: 0, tempsRemoved: 0, referenced: 0, interrupted: false,
  }
  // Ages are judged against the moment before the indexes were read, not against the clock during the walk: a
  // file written (or claimed) after that moment may belong to an index row the snapshot below does not have, so
  // it must count as young however long the walk takes to reach it.
  const scanStart = ctx.now()
  let uses, packages
  try {
    ({ uses, packages } = await referencedContent(indexes, options.signal))
  } catch (err) {
    if (!(err instanceof InterruptedError)) throw err
    return { ...report, interrupted: true }
  }
  if (packages === 0 && options.allowNoIndexes !== true && await hasContent(ctx.root)) {
    throw new PruneRefusedError(ctx.root)
  }
  const isOld = (stat: fs.Stats): boolean => !isYoung(stat, graceMs, scanStart)

  for await (const entry of walkContent(ctx.root)) {
    if (options.signal?.aborted === true) {
      report.interrupted = true
      break
    }
    if (entry.digest === undefined) continue // strays: reported and removed by verify --fix
    if (uses.has(contentKey(entry.digest, entry.exec))) {
      report.referenced++
      continue
    }
    if (!isOld(entry.stat)) {
      report.keptYoung++
      continue
    }
    if (dryRun) {
      report.removed.count++
      report.removed.bytes += entry.stat.size
      continue
    }
    await reach(ctx.hooks, 'prune:candidate', entry.path)
    const removed = await ctx.lock.withLock(entry.path, stripeOfDigest(entry.digest), async () => {
      const stat = statOrUndefined(entry.path)
      if (stat === undefined || !stat.isFile()) return false
      if (!isOld(stat)) {
        report.keptYoung++
        return false
      }
      await reach(ctx.hooks, 'prune:locked', entry.path)
      try {
        fs.unlinkSync(entry.path)
      } catch (err) {
        if (errorCode(err) === 'ENOENT') return false
        throw err
      }
      report.removed.bytes += stat.size
      return true
    })
    if (removed) report.removed.count++
  }
  if (!report.interrupted) {
    for await (const temp of staleTemps(ctx.root, graceMs, scanStart)) {
      if (dryRun || await removeTemp(temp)) report.tempsRemoved++
    }
  }
  return report
}

async function hasContent (root: string): Promise<boolean> {
  for await (const entry of walkContent(root)) {
    if (entry.digest !== undefined) return true
  }
  return false
}
