/**
 * cas-store: a content-addressable file store for package installers, laid out like pnpm's store v11, safe with
 * many writers and verifiers at once, in one process or many. This file only re-exports; each verb lives in its
 * own module (writer: `write/ensureFile.ts`, verifier: `verify/checkFile.ts`, lock: `lock/pathLock.ts`).
 */
export { openStore, Store, type StoreOptions } from './store.js'
export type {
  CheckOptions, EnsureFileOptions, EnsureFileResult, FileInfo, IntegrityResult, PackageIndex, PackageIndexInput,
} from './types.js'
export { COMPLETE_MARKER, type EnsureDirOptions } from './dir/ensureDir.js'
export {
  type AddLimits, DEFAULT_MAX_ENTRIES, DEFAULT_MAX_RATIO, DEFAULT_MAX_UNPACKED_BYTES, RATIO_GRACE_BYTES,
} from './add/limits.js'
export { MAX_DIR_VISITS } from './add/addFilesFromDir.js'
export type { FetchFileOptions, FetchFileResult, FetchProgress } from './fetch/fetchFile.js'
export type { ImportPackageOptions, ImportPackageResult } from './import/importPackage.js'
export type { ImportMethod, ImportMethodOption } from './import/importMethod.js'
export type { EnsurePackageOptions, EnsurePackageResult } from './ensure/ensurePackage.js'
export type { AddFilesFromTarballOptions } from './add/addFilesFromTarball.js'
export type { LockHolder, WaitInfo, WaitOptions } from './lock/lockWait.js'
export { REPORT_WAIT_AFTER_MS } from './lock/stripeLocks.js'
export type { AbortSignalLike } from './util/abortSignal.js'
export { assertDigestHex, hexToSri, isDigestHex, sriToHex, toDigestHex } from './digest/sri.js'
export { contentPathFor, isExecutable, storedMode } from './layout/contentPath.js'
export { LEGACY_STORE_VERSION, resolveStoreRoot, STORE_VERSION } from './layout/resolveRoot.js'
export type { PackageIndexEntry } from './pkgIndex/backend.js'
export { DEFAULT_GRACE_MS } from './util/age.js'
export {
  unsettled, type FileProblem, type UnsettledProblems, type VerifyProgress, type VerifyReport, type VerifyStoreOptions,
} from './maint/verifyStore.js'
export type { PruneOptions, PruneReport } from './maint/pruneStore.js'
export type { StoreStats } from './maint/storeStats.js'
export type { StaleTemp } from './maint/staleTemps.js'
export {
  assertPackageIndexKey, isPackageIndexKey, packageIndexKey, parsePackageIndexKey, type PackageIndexKeyParts,
} from './pkgIndex/key.js'
export { fileEntryProblem } from './pkgIndex/fileInfo.js'
export { MAX_VERIFY_JOBS } from './maint/verifyStore.js'
export { assertSafePackageFileName, isSafePackageFileName } from './pkgIndex/fileName.js'
export { indexedManifest, requiresBuild } from './pkgIndex/manifest.js'
export { INDEX_DB_FILE } from './pkgIndex/indexDb.js'
export { v10IndexFile } from './pkgIndex/v10Index.js'
export type { RemoteOptions } from './remote/options.js'
export type {
  PullOutcome, PushOptions, PushProgress, PushReport, RemoteErrorHandler, RemoteStats,
} from './remote/types.js'
export { remoteFilePath, remoteIndexPath } from './remote/layout.js'
export { decodeRemoteIndex, encodeRemoteIndex, REMOTE_INDEX_FORMAT, REMOTE_INDEX_VERSION } from './remote/indexCodec.js'
export {
  BadDigestError, BadTarballError, CasError, FetchError, FileAccessError, IndexBusyError, IndexCorruptError,
  IndexReadOnlyError, IntegrityError, InterruptedError, InvalidArgumentError, LockTimeoutError, NotAFileError,
  PruneRefusedError, StoreClosedError, UnsafePathError,
} from './errors.js'
export { ImportMethodError, MissingContentError, NameCollisionError } from './errors.js'
export {
  FileChangedError, IndexLostError, LockFileError, NativeAddonError, ReadOnlyStoreError, TempFileLostError,
  TooLargeError,
  TooManyEntriesError,
} from './errors.js'
export { LocalFileMissingError, RemoteCorruptError, RemoteUnavailableError } from './errors.js'
