import fs from 'node:fs'
import type { StoreContext } from '../context.js'
import type { IndexBackend } from '../pkgIndex/backend.js'
import { stripeOfDigest } from '../layout/contentPath.js'
import { errorCode, statOrUndefined } from '../util/fs.js'
import { reach } from '../util/hooks.js'
import { contentKey } from './contentKey.js'
import { referencedContent } from './referencedContent.js'
import { removeTemp, staleTemps } from './staleTemps.js'
import { DEFAULT_GRACE_MS } from './verifyStore.js'
import { walkContent } from './walkContent.js'

/** Options of {@link pruneStore}. */
export interface PruneOptions {
  /** Content changed (written, or claimed by a writer) less than this long ago is kept. Default 10 minutes. */
  graceMs?: number
  /** Report what would go, remove nothing. */
  dryRun?: boolean
  /** Stop when aborted; the report says it was interrupted. */
  signal?: AbortSignal
  /** @internal Tests: the clock prune judges ages by. */
  now?: () => number
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
 * - every index must be readable, or nothing is removed (an unreadable index's files would look unused);
 * - a file is removed only if, under its path lock, it is still there and unchanged for `graceMs` by both mtime
 *   and ctime. Writers claim content they find already stored under that same lock (a ctime bump, see
 *   `claimExisting`), and write new content fresh, so content an install was just handed is never old here, even
 *   though its index row is written only later.
 */
export async function pruneStore (ctx: StoreContext, indexes: IndexBackend, options: PruneOptions = {}): Promise<PruneReport> {
  const graceMs = options.graceMs ?? DEFAULT_GRACE_MS
  const now = options.now ?? Date.now
  const dryRun = options.dryRun === true
  const report: PruneReport = { dryRun, removed: { count: 0, bytes: 0 }, keptYoung: 0, tempsRemoved: 0, referenced: 0, interrupted: false }
  const { uses } = await referencedContent(indexes)
  const isOld = (stat: fs.Stats): boolean => now() - Math.max(stat.mtimeMs, stat.ctimeMs) >= graceMs

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
    for await (const temp of staleTemps(ctx.root, graceMs, now())) {
      if (dryRun || await removeTemp(temp)) report.tempsRemoved++
    }
  }
  return report
}
