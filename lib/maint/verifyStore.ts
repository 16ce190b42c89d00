import os from 'node:os'
import type { StoreContext } from '../context.js'
import { contentPathFor, contentPathOfCheckedDigest, isExecutable } from '../layout/contentPath.js'
import type { IndexBackend, PackageIndexEntry } from '../pkgIndex/backend.js'
import type { FileInfo } from '../types.js'
import type { AbortSignalLike } from '../util/abortSignal.js'
import { DEFAULT_GRACE_MS } from '../util/age.js'
import { EventLoopTurns } from '../util/eventLoop.js'
import { statOrUndefined } from '../util/fs.js'
import { reach } from '../util/hooks.js'
import { checkFile, type CheckPolicy, type FileVerdict } from '../verify/checkFile.js'
import { checkFiles, type FileToCheck } from '../verify/checkFiles.js'
import { contentKey, contentKeyOfName } from './contentKey.js'
import { indexContent } from './indexContent.js'
import { removeTemp, staleStray, staleTemps, type StaleTemp } from './staleTemps.js'
import { walkContent } from './walkContent.js'

/** Options of {@link verifyStore}. */
export interface VerifyStoreOptions {
  /** Re-hash every file, even those the fast path (mtime vs checkedAt) would trust. */
  full?: boolean
  /**
   * Repair: remove corrupt content (under the path lock, after re-checking), delete the index of every package
   * that lost a file (and unreadable indexes) so the next install fetches it again, remove stale temp files.
   */
  fix?: boolean
  /** Nothing that changed less than this long ago is removed (default 10 minutes). */
  graceMs?: number
  /**
   * Packages checked at once (default: twice the CPU count; at most `MAX_VERIFY_JOBS`). 1: one file at a time on
   * the calling thread; more lets the store's threads hash a package's files (see `verify/checkFiles.ts`).
   */
  jobs?: number
  /** Stop taking new packages when aborted; what was started finishes, and the report says it was interrupted. */
  signal?: AbortSignalLike
  /** Called after each package and each content file checked. */
  onProgress?: (progress: VerifyProgress) => void
}

/** Progress of a {@link verifyStore} scan. */
export interface VerifyProgress {
  packagesDone: number
  /** Packages in the store, when cheap to know (v11). */
  packagesTotal: number | undefined
  /** Content files checked so far (each once, however many packages share it). */
  filesChecked: number
}

/** One missing or corrupt file of one package. */
export interface FileProblem {
  /** The package index's key. */
  key: string
  /** The file's name in the package. */
  file: string
  /** Content path in the store. */
  path: string
  digest: string
  problem: 'missing' | 'corrupt'
  /** What `--fix` did: removed the bad content, kept it (changed within the grace period), or nothing. */
  action: 'removed' | 'kept: younger than grace' | 'none'
  /** Corrupt: its hard link count when found. Over 1: a project links the file, and most likely edited it there. */
  links?: number
  /** Corrupt: when it last changed (later of mtime and ctime, ms since the epoch), to judge it against the grace. */
  changedAt?: number
}

/** What {@link verifyStore} found (and, with `fix`, did). */
export interface VerifyReport {
  root: string
  format: 'v10' | 'v11'
  full: boolean
  fix: boolean
  /** Packages whose index was read and checked. */
  packagesChecked: number
  /** Content files checked (each once). */
  filesChecked: number
  /** Of those, files trusted after a stat (mtime not after `checkedAt`), not re-hashed: the fast path. */
  filesTrusted: number
  /** Every missing or corrupt file, per package that uses it. */
  problems: FileProblem[]
  /** Indexes that could not be read, and (with fix) whether they were deleted. */
  unreadableIndexes: Array<{ key: string, error: string, deleted: boolean }>
  /** Indexes deleted by fix because their package lost files. */
  deletedIndexes: string[]
  /** Indexes fix would have deleted, but another process rewrote or removed them during the scan (left alone). */
  supersededIndexes: string[]
  /** Temp files and fill folders older than the grace period (with fix: removed). */
  staleTemps: Array<StaleTemp & { removed: boolean }>
  /** Content no index references (left for `cas prune`). Counted only for a complete scan. */
  orphans: { count: number, bytes: number }
  /** The scan was stopped (signal) before every package was checked. */
  interrupted: boolean
  /** index.db is empty while the store holds content (`ERR_CAS_INDEX_LOST`): nothing could be checked. */
  indexLost?: boolean
  /** No problem is left in the store: nothing missing or corrupt, every index readable (or fixed). */
  healthy: boolean
}

/**
 * Files a thread re-hashes per task in a scan (`checkFiles`' `chunk`): most packages are one task. `jobs` packages
 * are checked at once, so packages keep the threads busy, and fewer messages cost the calling thread less.
 * Measured, `--full` of the bench's 300 packages x 166 files, 2 threads, median of 6: 575 ms with tasks of 64
 * files (`checkFiles`' default, for one package alone), 518 ms with 256 (`--jobs 1`: ~920 ms).
 */
export const PACKAGE_CHUNK = 256

/** `jobs` is capped to this: more packages at once only add memory (each job is a task, not a thread). */
export const MAX_VERIFY_JOBS = 256

/** What a scan found and did not settle: the problems a user still has (see {@link unsettled}). */
export interface UnsettledProblems {
  /** Missing or corrupt files of packages whose index is still there. */
  problems: FileProblem[]
  /** Unreadable indexes still there. */
  unreadableIndexes: VerifyReport['unreadableIndexes']
}

/**
 * Checks every package of the store and, with `fix`, repairs it. Safe while installs run: removal goes through the
 * verifier (`checkFile`), which removes only content proven wrong under the path lock, and with a grace period,
 * never content changed in the last `graceMs`. The scan runs in named phases, in this order (as cacache's
 * verify.js lists its steps):
 * 1. {@link checkPackages}: every package index, and every content file it names (each file once);
 * 2. {@link sweepContent}: `files/`, for strays (dead writers' temps) and content no index references;
 * 3. {@link sweepTemps}: `tmp/` and `dirs/`, for dead writers' temp files and fill folders;
 * 4. {@link unsettled}: the health rule, whether anything is left for the user to do.
 * An interrupted scan (signal) skips the sweeps: what it did not read, it cannot call unreferenced.
 */
export async function verifyStore (
  ctx: StoreContext, indexes: IndexBackend, options: VerifyStoreOptions = {},
): Promise<VerifyReport> {
  const fix = options.fix === true
  const graceMs = options.graceMs ?? DEFAULT_GRACE_MS
  const scan: Scan = {
    ctx,
    indexes,
    options,
    policy: { full: options.full === true, remove: fix, graceMs },
    verdicts: new Map(),
    goodIn: new Uint32Array(256),
    report: {
      root: ctx.root,
      format: indexes.format,
      full: options.full === true,
      fix,
      packagesChecked: 0,
      filesChecked: 0,
      filesTrusted: 0,
      problems: [],
      unreadableIndexes: [],
      deletedIndexes: [],
      supersededIndexes: [],
      staleTemps: [],
      orphans: { count: 0, bytes: 0 },
      interrupted: false,
      healthy: true,
    },
  }
  if (indexes.lost === true) return { ...scan.report, indexLost: true, healthy: false }
  await checkPackages(scan)
  if (!scan.report.interrupted) await sweepContent(scan)
  if (!scan.report.interrupted) await sweepTemps(scan)
  const { report } = scan
  report.problems.sort((a, b) => a.key < b.key ? -1 : a.key > b.key ? 1 : a.file < b.file ? -1 : 1)
  const left = unsettled(report)
  report.healthy = left.problems.length === 0 && left.unreadableIndexes.length === 0
  return report
}

/**
 * The health rule: the problems of a report that are still the user's. A package whose index was deleted (by this
 * fix) or superseded (rewritten by another process meanwhile) is settled: its next install fetches it again.
 */
export function unsettled (report: VerifyReport): UnsettledProblems {
  const settled = new Set([...report.deletedIndexes, ...report.supersededIndexes])
  return {
    problems: report.problems.filter(p => !settled.has(p.key)),
    unreadableIndexes: report.unreadableIndexes.filter(u => !u.deleted && !settled.has(u.key)),
  }
}

/** One scan's state, shared by its phases. */
interface Scan {
  ctx: StoreContext
  indexes: IndexBackend
  options: VerifyStoreOptions
  policy: CheckPolicy & { graceMs: number }
  /**
   * Every content file any index names: true once verified good, its verdict when bad. Bounded by the number of
   * distinct files (compact keys), never by the number of references.
   */
  verdicts: Map<string, true | FileVerdict>
  /** Files verified good, per bucket folder (`files/<2 hex>`, by its number). */
  goodIn: Uint32Array
  report: VerifyReport
}

/** Phase 1: reads each index a page at a time and checks the files it names, `jobs` packages at once. */
async function checkPackages (scan: Scan): Promise<void> {
  const { ctx, indexes, options, policy, verdicts, goodIn, report } = scan
  const fix = report.fix
  const requested = Number.isFinite(options.jobs) ? Math.floor(options.jobs!) : os.availableParallelism() * 2
  const jobs = Math.min(MAX_VERIFY_JOBS, Math.max(1, requested))
  // --jobs 1 means one file at a time, on this thread; more lets the store's threads hash in parallel.
  const threads = jobs > 1
  // Files being checked right now: each settles once its verdict is in `verdicts` (or fails with the check's error).
  const inflight = new Map<string, Promise<unknown>>()

  const record = (key: string, v: FileVerdict): true | FileVerdict => {
    report.filesChecked++
    if (v.status === 'good') {
      if (!v.rehashed) report.filesTrusted++
      goodIn[parseInt(key.slice(0, 2), 16)]!++
    }
    const verdict = v.status === 'good' ? true : v
    verdicts.set(key, verdict)
    progress() // per file too: one package can hold tens of thousands
    return verdict
  }

  // A file shared by many packages is checked once and its verdict reported for each.
  const verdictOf = async (key: string, info: FileInfo): Promise<true | FileVerdict> => {
    const known = verdicts.get(key)
    if (known !== undefined) return known
    const waiting = inflight.get(key)
    if (waiting !== undefined) {
      await waiting
      const settled = verdicts.get(key)
      if (settled !== undefined) return settled
    }
    const file = contentPathFor(ctx.root, info.digest, info.mode)
    const checking = checkFile(ctx, file, info.digest, info.size, info.checkedAt, policy)
      .then(v => record(key, v))
      .finally(() => inflight.delete(key))
    inflight.set(key, checking)
    return await checking
  }

  // The files of one package that no package has had checked yet are checked together (`checkFiles`: the stat
  // fast path without a promise per file, the rest hashed on the store's threads). They are registered as in
  // flight under one promise, so a package checked meanwhile waits for these verdicts instead of checking again.
  const checkAtOnce = async (
    content: Array<[string, FileInfo]>, fileKeys: string[],
  ): Promise<void> => {
    const keys: string[] = []
    const files: FileToCheck[] = []
    let settled!: () => void
    const batch = new Promise<void>(resolve => { settled = resolve })
    for (let i = 0; i < content.length; i++) {
      const key = fileKeys[i]!
      if (verdicts.has(key) || inflight.has(key)) continue
      inflight.set(key, batch) // before any await: a package checked meanwhile waits for this verdict
      const { digest, size, checkedAt } = content[i]![1]
      keys.push(key)
      files.push({ path: contentPathOfCheckedDigest(ctx.root, digest, key.length > 32), digest, size, checkedAt })
    }
    if (files.length === 0) return
    try {
      const onVerdict = (at: number, v: FileVerdict): void => { record(keys[at]!, v) }
      await checkFiles(ctx, files, policy, { threads, chunk: PACKAGE_CHUNK, onVerdict })
    } finally {
      for (const key of keys) inflight.delete(key)
      settled()
    }
  }

  // With fix, an index is deleted only if it is still the one this scan read (`revision`): an install may have
  // rewritten it meanwhile, and its new version was not judged here. Either way it is no longer this scan's
  // problem: superseded.
  const dropIndex = async (key: string, revision: string | undefined): Promise<boolean> => {
    if (await indexes.delete(key, revision)) return true
    report.supersededIndexes.push(key)
    return false
  }

  const checkPackage = async ({ key, index, error, revision, keyProblem }: PackageIndexEntry): Promise<void> => {
    if (index === undefined || keyProblem !== undefined) {
      const deleted = fix && await dropIndex(key, revision)
      report.unreadableIndexes.push({ key, error: keyProblem ?? error?.message ?? 'unreadable', deleted })
      return
    }
    let content: Array<[string, FileInfo]>
    try {
      content = [...indexContent(index)]
    } catch (err) {
      const deleted = fix && await dropIndex(key, revision)
      report.unreadableIndexes.push({ key, error: `cannot be understood: ${(err as Error).message}`, deleted })
      return
    }
    // Each file's content key is computed once. Digests are not tested again here: the index reader
    // (`pkgIndex/codec.ts`) refuses a row whose digest is not 128 lowercase hex, and at 50k files a second regex
    // per file was an eighth of the fast check's time.
    const fileKeys = content.map(([, info]) => contentKey(info.digest, isExecutable(info.mode)))
    await checkAtOnce(content, fileKeys)
    let lostFiles = false
    for (let i = 0; i < content.length; i++) {
      const fileKey = fileKeys[i]!
      const [file, info] = content[i]!
      const verdict = verdicts.get(fileKey) ?? await verdictOf(fileKey, info)
      if (verdict === true) continue
      const filePath = contentPathOfCheckedDigest(ctx.root, info.digest, fileKey.length > 32)
      // A verdict may come from another package checked minutes ago: before a repair acts on "missing", look
      // again. A writer may have put the file back since; then there is nothing to repair.
      if (fix && verdict.status === 'missing') {
        await reach(ctx.hooks, 'verify:missing', filePath)
        if (statOrUndefined(filePath) !== undefined) continue
      }
      const problem = verdict.status === 'missing' ? 'missing' : 'corrupt'
      const action = verdict.removed ? 'removed' : verdict.young === true ? 'kept: younger than grace' : 'none'
      if (problem === 'missing' || verdict.removed) lostFiles = true
      const facts = verdict.links === undefined ? {} : { links: verdict.links, changedAt: verdict.changedAt }
      report.problems.push({ key, file, path: filePath, digest: info.digest, problem, action, ...facts })
    }
    report.packagesChecked++
    if (fix && lostFiles && await dropIndex(key, revision)) report.deletedIndexes.push(key)
  }

  const packagesTotal = options.onProgress === undefined ? undefined : await indexes.count()
  function progress (): void {
    options.onProgress?.({
      packagesDone: report.packagesChecked + report.unreadableIndexes.length,
      packagesTotal,
      filesChecked: report.filesChecked,
    })
  }
  const entries = indexes.list()[Symbol.asyncIterator]()
  const pace = new EventLoopTurns()
  // The first failure stops the jobs from taking more packages, and is thrown once every job has stopped: a job
  // still inside a package may be removing a file under its path lock, and the scan must not be over (nor the
  // store closed, which waits for it) while it is.
  let failure: { error: unknown } | undefined
  await Promise.all(Array.from({ length: jobs }, async () => {
    while (failure === undefined) {
      try {
        // Small files are read and hashed synchronously and index pages come from a synchronous SQLite call, so a
        // scan can run for seconds on microtasks alone. Give the event loop a turn every 50 ms: that is when a
        // Ctrl-C handler (the abort signal), timers and other I/O get to run.
        const paused = pace.turn()
        if (paused !== undefined) await paused
        if (options.signal?.aborted === true) {
          report.interrupted = true
          return
        }
        const next = await entries.next()
        // Another job may have failed during either wait above: then this package is left alone.
        if (next.done === true || failure !== undefined) return
        await checkPackage(next.value)
        progress()
      } catch (error) {
        failure ??= { error }
      }
    }
  }))
  await entries.return?.(undefined)
  if (failure !== undefined) throw failure.error
}

/** Phase 2: walks `files/`; stale strays are listed (removed with fix), unreferenced content is counted. */
async function sweepContent ({ ctx, options, policy, verdicts, goodIn, report }: Scan): Promise<void> {
  // Content this scan verified good is neither a stray nor an orphan: its name is enough, no stat needed. A
  // bucket listing exactly as many names as it holds verified files holds nothing else (they were all there when
  // verified), so its names are not even looked at. Only a verified file removed meanwhile by another process
  // (prune after an index was deleted) could hide a stray in its place until the next scan.
  const verified = (bucket: string, name: string, exec: boolean): boolean =>
    verdicts.get(contentKeyOfName(bucket, name, exec)) === true
  const onlyVerified = (bucket: string, names: number): boolean => goodIn[parseInt(bucket, 16)] === names
  for await (const entry of walkContent(ctx.root, verified, onlyVerified)) {
    if (options.signal?.aborted === true) {
      report.interrupted = true
      return
    }
    if (entry.digest === undefined) {
      const stray = staleStray(entry.path, entry.stat, policy.graceMs, ctx.now())
      if (stray !== undefined) report.staleTemps.push({ ...stray, removed: report.fix && await removeTemp(stray) })
    } else if (!verdicts.has(contentKey(entry.digest, entry.exec))) {
      report.orphans.count++
      report.orphans.bytes += entry.stat.size
    }
  }
}

/** Phase 3: dead writers' temp files and fill folders past the grace period are listed (removed with fix). */
async function sweepTemps ({ ctx, policy, report }: Scan): Promise<void> {
  for await (const temp of staleTemps(ctx.root, policy.graceMs, ctx.now())) {
    report.staleTemps.push({ ...temp, removed: report.fix && await removeTemp(temp) })
  }
}
