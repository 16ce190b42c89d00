import fs from 'node:fs'
import type { StoreContext } from '../context.js'
import { FileAccessError } from '../errors.js'
import { stripeOfDigest } from '../layout/contentPath.js'
import { probeContent, type ContentProbe } from '../content/probe.js'
import { isYoung } from '../util/age.js'
import { errorCode, statOrUndefined } from '../util/fs.js'
import { reach } from '../util/hooks.js'

/**
 * How far (ms) a file's mtime may be past its `checkedAt` and still be trusted without reading it. pnpm's value:
 * the write that set the mtime and the clock read that set `checkedAt` happen a few ms apart.
 */
export const CHECKED_AT_TOLERANCE_MS = 100

/** The verdict on one content file. `removed` only ever accompanies `corrupt`. */
export interface FileVerdict {
  status: 'good' | 'missing' | 'corrupt'
  removed: boolean
  /** True when the content was read and hashed (so its `checkedAt` can be renewed). */
  rehashed: boolean
  /** Corrupt but kept because it changed within the grace period (someone may be writing it in place). */
  young?: boolean
  /** Corrupt: the file's hard link count when it was proven wrong. Over 1, a project links it (and edited it). */
  links?: number
  /** Corrupt: when the file last changed (the later of mtime and ctime, ms since the epoch). */
  changedAt?: number
}

/** How {@link checkFile} treats a file; the defaults are the install-time verifier's. */
export interface CheckPolicy {
  /** Hash even files the fast path would trust (`cas verify --full`). */
  full?: boolean
  /** Remove content proven corrupt (default true). False reports only (`cas verify` without `--fix`). */
  remove?: boolean
  /**
   * Never remove a file whose mtime or ctime is less than this many ms old: a tool that takes no locks (pnpm)
   * may be writing it in place. Default 0.
   */
  graceMs?: number
}

const GOOD_FAST: FileVerdict = { status: 'good', removed: false, rehashed: false }
/** A file whose bytes were read and hashed to its digest. */
export const GOOD_HASHED: FileVerdict = { status: 'good', removed: false, rehashed: true }
const MISSING: FileVerdict = { status: 'missing', removed: false, rehashed: false }

/**
 * Verifies one content file; the verifier of the store.
 *
 * - Fast path, lock-free: one stat. A regular file of the right size whose mtime is within 100 ms of `checkedAt`
 *   has not been touched since it was known good: trusted without reading.
 * - Lock-free pre-check: hash it. Good is final: good content is never replaced by anything but good content.
 * - Suspect (wrong size or hash): take the path lock, then stat and hash again. A writer may have renamed good
 *   content into place since the pre-check (it renames under the same lock), so the first reading proves nothing.
 *   Only a file proven wrong while the lock is held is removed, so a removal can never hit a good file.
 */
export async function checkFile (
  ctx: StoreContext, filePath: string, digest: string, size: number, checkedAt: number | undefined,
  policy: CheckPolicy = {},
): Promise<FileVerdict> {
  const fast = fastVerdict(filePath, size, checkedAt, policy)
  if (fast !== undefined) return fast
  const { state: first } = readable(await probeContent(filePath, digest, size), filePath)
  if (first === 'good') return GOOD_HASHED
  if (first === 'missing') return MISSING
  await reach(ctx.hooks, 'verifier:suspect', filePath)
  return await ctx.lock.withLock(filePath, stripeOfDigest(digest), async () => {
    await reach(ctx.hooks, 'verifier:locked', filePath)
    // Hash even when the size differs: the index's size could be the wrong one, and a file is removed only when
    // its bytes are proven not to hash to its name.
    const { state } = readable(await probeContent(filePath, digest), filePath)
    switch (state) {
      case 'good': return GOOD_HASHED
      case 'missing': return MISSING
      // A directory (or socket…) is wrong, but not ours to delete: it may hold someone's data. Reported only.
      case 'not-a-file': return { status: 'corrupt', removed: false, rehashed: true }
      case 'wrong': {
        // For the report, before any removal changes them: who else links the file, and when it changed.
        const found = statOrUndefined(filePath)
        const facts = found === undefined
          ? {}
          : { links: found.nlink, changedAt: Math.max(found.mtimeMs, found.ctimeMs) }
        if (policy.remove === false || ctx.readOnly === true) return { status: 'corrupt', removed: false, rehashed: true, ...facts }
        if (changedWithinGrace(ctx, filePath, policy.graceMs ?? 0)) {
          return { status: 'corrupt', removed: false, rehashed: true, young: true, ...facts }
        }
        await reach(ctx.hooks, 'verifier:provenWrong', filePath)
        return { status: 'corrupt', removed: removeFile(filePath), rehashed: true, ...facts }
      }
    }
  })
}

/**
 * The verifier's lock-free first look, one stat: `missing`, or `good` when {@link trustedByFastPath} says so, or
 * undefined when the content must be read. Synchronous, so a scan of trusted files costs no promise per file.
 */
export function fastVerdict (
  filePath: string, size: number, checkedAt: number | undefined, policy: CheckPolicy = {},
): FileVerdict | undefined {
  let stat
  try {
    stat = statOrUndefined(filePath)
  } catch (err) {
    throw new FileAccessError(filePath, err as NodeJS.ErrnoException)
  }
  if (stat === undefined) return MISSING
  if (policy.full !== true && trustedByFastPath(stat, size, checkedAt)) return GOOD_FAST
  return undefined
}

/**
 * The fast path's rule, on a stat already made: a regular file of the right size whose mtime is no more than
 * {@link CHECKED_AT_TOLERANCE_MS} past `checkedAt` (a real time: 0 is never) has not been touched since it was
 * known good.
 */
export function trustedByFastPath (stat: fs.Stats, size: number, checkedAt: number | undefined): boolean {
  // checkedAt 0 (or none) means never checked: a file whose mtime is within 100 ms of 1970 (`touch -d @0`, a copy
  // that zeroed its times) must not pass for one checked then.
  return stat.isFile() && stat.size === size && checkedAt !== undefined && checkedAt > 0 &&
    stat.mtimeMs - checkedAt <= CHECKED_AT_TOLERANCE_MS
}

/** The verifier's use of the age rule: a grace of 0 (the install-time verifier's) protects nothing. */
function changedWithinGrace (ctx: StoreContext, filePath: string, graceMs: number): boolean {
  if (graceMs <= 0) return false
  const stat = statOrUndefined(filePath)
  return stat !== undefined && isYoung(stat, graceMs, ctx.now())
}

/** The verifier cannot judge a file it cannot read: that is an error for the user, not a verdict. */
function readable (probe: ContentProbe, filePath: string): Exclude<ContentProbe, { state: 'unreadable' }> {
  if (probe.state === 'unreadable') throw new FileAccessError(filePath, probe.error)
  return probe
}

function removeFile (filePath: string): boolean {
  try {
    fs.unlinkSync(filePath)
    return true
  } catch (err) {
    if (errorCode(err) === 'ENOENT') return true
    throw new FileAccessError(filePath, err as NodeJS.ErrnoException) // EROFS, EPERM: a read-only store
  }
}
