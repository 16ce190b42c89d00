import { BadTarballError, TooManyEntriesError } from '../errors.js'

/**
 * Limits on what an add verb accepts from outside. Tarballs and folders come from the network and from other
 * people's packages; a store shared by many machines must not be filled, or a process run out of memory, by one
 * hostile input. Each default is far above what any real package needs (the largest npm packages unpack to a
 * few hundred MB and tens of thousands of files) and can be raised per call.
 */
export interface AddLimits {
  /** Files (tarball entries, or files met walking a folder) at most. Default 200,000. */
  maxEntries?: number
  /**
   * Bytes in all: what a tarball may unpack to, or what a folder's files add up to (their sizes as the walk finds
   * them: a sparse file counts at its full size). Default 8 GiB.
   */
  maxUnpackedBytes?: number
  /**
   * Tarballs: unpacked bytes per compressed byte read, at most, checked once more than 64 MiB have been unpacked
   * (small packages of very repetitive files are fine). Default 500; gzip itself cannot exceed about 1,032.
   */
  maxRatio?: number
}

export const DEFAULT_MAX_ENTRIES = 200_000
export const DEFAULT_MAX_UNPACKED_BYTES = 8 * 1024 ** 3
export const DEFAULT_MAX_RATIO = 500
/** Below this many unpacked bytes the ratio is not judged: a small package of zeros is not a bomb. */
export const RATIO_GRACE_BYTES = 64 * 1024 * 1024

/** Tracks what a tarball has unpacked to so far; throws `ERR_CAS_BAD_TARBALL` (or `ERR_CAS_TOO_MANY_ENTRIES`). */
export class TarballBudget {
  readonly #maxEntries: number
  readonly #maxBytes: number
  readonly #maxRatio: number
  #entries = 0
  #unpacked = 0
  #compressed = 0

  constructor (limits: AddLimits = {}) {
    this.#maxEntries = limits.maxEntries ?? DEFAULT_MAX_ENTRIES
    this.#maxBytes = limits.maxUnpackedBytes ?? DEFAULT_MAX_UNPACKED_BYTES
    this.#maxRatio = limits.maxRatio ?? DEFAULT_MAX_RATIO
  }

  /**
   * Counts compressed (input) bytes handed to the parser. Input past `maxUnpackedBytes` (plus the tar headers and
   * padding of the entries so far) is refused too: a tarball is never much larger than what it unpacks to, and a
   * stream of zeros (`/dev/zero`) unpacks to nothing, forever.
   */
  fed (bytes: number): void {
    this.#compressed += bytes
    if (this.#compressed > this.#maxBytes + 1024 * (this.#entries + 2)) this.#tooBig(this.#compressed)
  }

  /** Counts one more entry, with its declared size (refused before a byte of it is read). */
  entry (declaredSize: number): void {
    if (++this.#entries > this.#maxEntries) throw new TooManyEntriesError('tarball', this.#maxEntries)
    if (this.#unpacked + declaredSize > this.#maxBytes) this.#tooBig(this.#unpacked + declaredSize)
  }

  /** Counts unpacked bytes as they come out of the parser. */
  unpacked (bytes: number): void {
    this.#unpacked += bytes
    if (this.#unpacked > this.#maxBytes) this.#tooBig(this.#unpacked)
    const ratio = this.#compressed > 0 ? this.#unpacked / this.#compressed : 0
    if (this.#unpacked > RATIO_GRACE_BYTES && ratio > this.#maxRatio) {
      throw new BadTarballError(
        `it expands ${Math.round(this.#unpacked / this.#compressed)} times (more than ${this.#maxRatio}: a ` +
        'decompression bomb); nothing was indexed. If you trust it, raise the maxRatio option')
    }
  }

  #tooBig (bytes: number): never {
    throw new BadTarballError(
      `it unpacks to more than ${this.#maxBytes} bytes (at least ${bytes}); nothing was indexed. If you trust ` +
      'it, raise the maxUnpackedBytes option')
  }
}
