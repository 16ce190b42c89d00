import type { StoreContext } from '../context.js'
import { integrityHasher } from '../digest/tarballIntegrity.js'
import { IndexReadOnlyError, InvalidArgumentError } from '../errors.js'
import { withKeyLock, type WaitOptions } from '../lock/keyLock.js'
import type { IndexBackend } from '../pkgIndex/backend.js'
import { packageIndexKey } from '../pkgIndex/key.js'
import type { PackageIndex } from '../types.js'
import { singleFlight } from './inFlight.js'
import { packageLockFile } from './packageLock.js'
import { tarballSource, type PackageSource, type TarballInput } from './packageSource.js'
import { usableIndex } from './usableIndex.js'

// Adding one package takes tens of milliseconds: a waiter polls the holder's lock at least this often.
const PACKAGE_POLL_MAX_MS = 10

/** Options of {@link ensurePackage}. */
export interface EnsurePackageOptions extends WaitOptions {
  /** The tarball's integrity, as in the lockfile (`sha512-…`; sha256/sha1 of old lockfiles are checked too). */
  integrity: string
  /** `name@version` for registry packages (the key is `packageIndexKey(integrity, pkgId)`). */
  pkgId: string
  /** The tarball's URL (fetched with Node's fetch), or the installer's own fetcher returning a Buffer or a stream. */
  tarball: TarballInput
  /** Request headers for a URL (an `authorization` for a private registry). */
  headers?: Record<string, string>
  /** Default true: an index whose files fail the verifier's check is not trusted; the package is fetched again. */
  verify?: boolean
  /** A download that receives no byte for this long fails with `ERR_CAS_FETCH_TIMEOUT` (default 30 s). */
  stallTimeoutMs?: number
}

/** Result of {@link ensurePackage}. */
export interface EnsurePackageResult {
  /** The package index, as stored (files, manifest, requiresBuild, tarIntegrity). */
  index: PackageIndex
  /** The key it is stored under: `<integrity>\t<pkgId>`. */
  key: string
  /** True when this call fetched and added the package; false when it was in the store or someone else added it. */
  fetched: boolean
}

/**
 * Makes sure a package is in the store, with its index, and returns the index: the one verb an installer needs to
 * get a package from a lockfile entry into the store.
 *
 * - Stored already (the index exists and, with `verify`, its files pass the fast check): returned at once, with no
 *   lock taken and no byte of the tarball read.
 * - Otherwise, single flight per key: tasks of this process share one attempt (`singleFlight`), processes take
 *   the key's lock file (flock; the kernel releases it when a holder dies, SIGKILL included). The holder checks
 *   again (someone may have finished while it waited), has `source` add the files (the tarball, hashed as it
 *   streams into the parser), writes the index with `tarIntegrity`, and releases. The index is written last, so
 *   a failure or a kill at any earlier point leaves no index: the next caller does the work.
 *
 * `source` is the seam for where files come from (see `PackageSource`); by default, the tarball.
 */
export async function ensurePackage (
  ctx: StoreContext, indexes: IndexBackend, options: EnsurePackageOptions, source?: PackageSource,
): Promise<EnsurePackageResult> {
  checkOptions(options)
  const key = packageIndexKey(options.integrity, options.pkgId)
  const verify = options.verify !== false
  const stored = await usableIndex(ctx, indexes, key, verify)
  if (stored.status === 'usable') return { index: stored.index, key, fetched: false }
  if (indexes.format !== 'v11') throw new IndexReadOnlyError(ctx.root)
  const from = source ?? tarballSource(options.tarball, options)
  // Whether an index found after waiting must pass the check: not when there was none at all before the wait (it
  // was written by a holder that had just added, so checked, every file), but when one was there and failed.
  let recheck = verify && stored.status !== 'absent'
  const started = Date.now()
  for (;;) {
    // The first task of the process runs this; tasks asking meanwhile join it (`singleFlight`), each with the
    // `recheck` it needs, which may be stricter than the first task's (see below).
    const first = recheck
    const { value, joined } = await singleFlight(ctx, key, async wait => {
      return await withKeyLock(packageLockFile(ctx.root, key), key, async () => {
        // Someone may have added it while we waited (see `recheck`). An index that had failed the check is checked
        // again: the store it was failing in is the same one.
        const again = await usableIndex(ctx, indexes, key, first)
        if (again.status === 'usable') return { index: again.index, fetched: false, checked: first }
        // Remote tier: read through it first (files verified, no registry request), else the tarball, then upload
        // it behind the install (lib/remote/remoteTier.ts). Both never fail the install for the remote's sake.
        const remote = await ctx.remote?.readThrough(key)
        const index = remote?.index ?? await from.addFiles(ctx)
        index.tarIntegrity = options.integrity
        await indexes.write(key, index)
        if (remote?.index === undefined) ctx.remote?.scheduleUpload(key, index, remote?.repair)
        return { index, fetched: true, checked: true }
      }, { ...wait, pollMaxMs: PACKAGE_POLL_MAX_MS, closing: ctx.closing })
    }, { onWait: options.onWait, timeoutMs: options.timeoutMs, since: started })
    if (!joined) return { index: value.index, key, fetched: value.fetched }
    // A joiner that saw the index fail the check is not handed one the first task trusted unchecked: it checks it
    // itself, and if it fails, goes round once more, now as a task that must check (and so fetch) it.
    if (recheck && !value.checked) {
      const mine = await usableIndex(ctx, indexes, key, true)
      if (mine.status === 'usable') return { index: mine.index, key, fetched: false }
      recheck = true
      continue
    }
    return { index: { ...value.index, files: new Map(value.index.files) }, key, fetched: false }
  }
}

function checkOptions (options: EnsurePackageOptions): void {
  if (options == null || typeof options !== 'object') {
    throw new InvalidArgumentError('ensurePackage: pass { integrity, pkgId, tarball }')
  }
  if (typeof options.tarball !== 'string' && typeof options.tarball !== 'function') {
    throw new InvalidArgumentError('ensurePackage: `tarball` is a URL, or a function resolving to a Buffer or stream')
  }
  if (typeof options.pkgId !== 'string' || options.pkgId === '') {
    throw new InvalidArgumentError('ensurePackage: `pkgId` must be the package\'s "name@version"')
  }
  integrityHasher(options.integrity) // refuses an integrity naming no algorithm we check, before any work
}
