import { ImportMethodError } from '../errors.js'
import { errorCode } from '../util/fs.js'

/** How a file gets from the store into a package folder. */
export type ImportMethod = 'clone' | 'hardlink' | 'copy'
/** What a caller may ask for: one method, or a ladder that falls back to what works. */
export type ImportMethodOption = 'auto' | 'clone' | 'hardlink' | 'copy' | 'clone-or-copy'

export const IMPORT_METHOD_OPTIONS: readonly ImportMethodOption[] =
  ['auto', 'clone', 'hardlink', 'copy', 'clone-or-copy']

/**
 * What one (store, target device) pair was found not to support: the errno code that proved it, per method. A
 * method without an entry is tried (a success needs no record: an untried method is tried anyway). A copy's
 * failure is always the file's own, so `copy` never gets an entry.
 */
type DeviceCapabilities = Partial<Record<ImportMethod, string>>

/*
 * Remembered per store root and target device (st_dev of the folder the package is built in), for the life of the
 * process: the probe costs one try per method, not one per file or per package. Keyed by device because one
 * install may write to several file systems (a project on disk, a cache on tmpfs), and what works differs.
 */
const memory = new Map<string, DeviceCapabilities>()

/** Errors that say "this method cannot work here", as opposed to errors of this one file (ENOENT, EACCES, ENOSPC). */
const CAPABILITY_ERRORS = new Set(['EXDEV', 'ENOTSUP', 'EOPNOTSUPP', 'ENOSYS', 'EINVAL', 'EPERM', 'ENOTTY', 'EBADF'])

/**
 * The method ladder of one import: which method to try now, and what to do when one proves impossible. `auto`
 * climbs down clone → hard link → copy, `clone-or-copy` clone → copy; an explicit method has no step below, so
 * its failure is an {@link ImportMethodError} naming the method and the reason. Packages that run build scripts
 * never get the hard-link step: a build writing through a hard link would change the store's content.
 */
export class MethodLadder {
  readonly #caps: DeviceCapabilities
  readonly #steps: ImportMethod[]
  readonly #requested: ImportMethodOption

  constructor (storeRoot: string, device: number, requested: ImportMethodOption, requiresBuild: boolean) {
    const key = `${storeRoot}\0${device}`
    let caps = memory.get(key)
    if (caps === undefined) memory.set(key, caps = {})
    this.#caps = caps
    this.#requested = requested
    const steps: ImportMethod[] = requested === 'auto'
      ? ['clone', 'hardlink', 'copy']
      : requested === 'clone-or-copy' ? ['clone', 'copy'] : [requested]
    // A build must not write into the store: clone or copy instead (explicit 'hardlink' included).
    this.#steps = requiresBuild
      ? (requested === 'hardlink' ? ['clone', 'copy'] : steps.filter(s => s !== 'hardlink'))
      : steps
    this.#skipKnownFailures()
  }

  /**
   * The method an import would use now, without trying anything and without throwing: for reporting, when a
   * complete target is kept.
   */
  static peek (storeRoot: string, device: number, requested: ImportMethodOption, requiresBuild: boolean): ImportMethod {
    try {
      return new MethodLadder(storeRoot, device, requested, requiresBuild).current
    } catch {
      // Only an explicit 'clone' or 'hardlink' throws: every ladder that ends in 'copy' has a step that works.
      return requested as ImportMethod
    }
  }

  /** The method to use for the next file. */
  get current (): ImportMethod {
    return this.#steps[0]!
  }

  /**
   * True when `err`, met by `method`, proves the method cannot work here: it is remembered for this store and
   * device, and the ladder steps down (or throws {@link ImportMethodError} when there is no step left).
   * False for errors of one file, which the caller handles.
   */
  stepDown (method: ImportMethod, err: unknown): boolean {
    const code = errorCode(err) ?? 'unknown'
    if (method === 'copy' || !CAPABILITY_ERRORS.has(code)) return false
    this.#caps[method] = code
    this.#skipKnownFailures(err)
    return true
  }

  #skipKnownFailures (cause?: unknown): void {
    // Ends by a return or a throw: the last step is never shifted away, so #steps is never empty.
    for (;;) {
      const step = this.#steps[0]!
      const known = this.#caps[step]
      if (known === undefined) return
      if (this.#steps.length === 1) throw new ImportMethodError(this.#requested, known, explain(step, known), cause)
      this.#steps.shift()
    }
  }
}

function explain (method: ImportMethod, code: string): string {
  if (code === 'EXDEV') return 'the store and the target folder are on different file systems'
  if (code === 'EPERM') {
    return method === 'hardlink'
      ? 'the system refused to link store files (a store owned by another user with fs.protected_hardlinks, ' +
        'or a file system without links)'
      : 'the system refused'
  }
  return method === 'clone'
    ? 'the file system does not support copy-on-write clones (reflinks; btrfs, XFS, APFS and others do)'
    : 'the file system does not support hard links'
}

/** Test-only: forget what was learned (a fresh process). */
export function _forgetMethods (): void {
  memory.clear()
}
