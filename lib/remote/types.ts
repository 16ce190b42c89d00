// The remote tier's public types, kept apart from the modules that use fetch and Node streams, so the published
// declarations (Store's options and results) name no Node or fetch type.
import type { CasError, RemoteCorruptError } from '../errors.js'
import type { PackageIndex } from '../types.js'
import type { AbortSignalLike } from '../util/abortSignal.js'

/** Requests and bytes a store exchanged with its remote cache. */
export interface RemoteStats {
  /** Requests sent, by method. */
  requests: { GET: number, HEAD: number, PUT: number }
  /** Body bytes received (GET answers). */
  bytesDownloaded: number
  /** Body bytes sent (PUT requests). */
  bytesUploaded: number
}

/** What a read-through of one package came to. */
export type PullOutcome =
  /** The package is in the local store now, from the remote: its index (as written locally), what it cost. */
  | { status: 'pulled', index: PackageIndex, filesDownloaded: number, bytesDownloaded: number }
  /** The remote has no index for this key. */
  | { status: 'miss' }
  /**
   * The remote holds something wrong for this package (nothing of it was stored). `badFiles`: digests whose blob
   * is wrong or missing on the server, for the next upload to overwrite.
   */
  | { status: 'bad', error: RemoteCorruptError, badFiles: Set<string> }

/** Progress of {@link pushStore}, after each package. */
export interface PushProgress {
  packagesDone: number
  /** Packages in the store, when cheap to know. */
  packagesTotal: number | undefined
  bytesUploaded: number
}

/** Options of `Store.pushToRemote` (`cas push`). */
export interface PushOptions {
  onProgress?: (progress: PushProgress) => void
  /** Stop between packages when aborted (Ctrl-C). */
  signal?: AbortSignalLike
}

/** What `cas push` did. */
export interface PushReport {
  /** Packages uploaded (their files the server lacked, then their index). */
  packagesUploaded: number
  /** Packages the server already had (its index present: files are uploaded before an index, so they are there). */
  packagesSkipped: number
  filesUploaded: number
  /** Files of uploaded packages the server already had (another package shares them). */
  filesSkipped: number
  bytesUploaded: number
  /** Packages that could not be uploaded because the local store lacks or holds wrong one of their files. */
  problems: Array<{ key: string, code: string, message: string }>
}

/**
 * Called with each problem the remote tier met in the background (see {@link RemoteTier.report}). What it throws,
 * or the promise it returns (an async handler) rejects with, is dropped: a logger that fails must not fail an
 * install.
 */
export type RemoteErrorHandler = (error: CasError) => void

/** What one package's upload did. */
export interface UploadResult {
  /** False when the server already had the package's index (with `skipIfIndexed`). */
  uploaded: boolean
  filesUploaded: number
  filesSkipped: number
  bytesUploaded: number
}
