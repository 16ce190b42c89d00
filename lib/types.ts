/** One file of a package, as a package index records it. */
export interface FileInfo {
  /** sha512 of the file's bytes, 128 lowercase hex characters. */
  digest: string
  /** The file's mode; only the execute bits matter to the store (they pick the `-exec` content path). */
  mode: number
  /** Size in bytes. */
  size: number
  /**
   * When the content was last known good at its store path (ms since the epoch). The verifier trusts a file
   * without reading it while its mtime is no more than 100 ms past this.
   */
  checkedAt?: number
}

/** A package's file list: file name inside the package (`/`-separated) to its content. */
export interface PackageIndex {
  algo: 'sha512'
  files: Map<string, FileInfo>
  /** The package's `package.json` subset, when known (added by later layers; the store itself ignores it). */
  manifest?: Record<string, unknown>
  /** Whether the package has install scripts to run (pnpm's flag). */
  requiresBuild?: boolean
  /** Anything else an index format carries (side effects, tarball integrity) rides along untouched. */
  [extra: string]: unknown
}

/** What {@link Store.checkPkgFilesIntegrity} accepts: `files` may be a Map or a plain object. */
export interface PackageIndexInput {
  algo?: 'sha512'
  files: Map<string, FileInfo> | Record<string, FileInfo>
}

/** Result of {@link Store.ensureFile}. */
export interface EnsureFileResult {
  /** sha512 of the content, hex. */
  digest: string
  /** Absolute path of the content file in the store. */
  filePath: string
  /** Size in bytes. */
  size: number
  /** When the content was known good at `filePath` (ms since the epoch); store it in the package index. */
  checkedAt: number
}

/** Options of {@link Store.ensureFile}. */
export interface EnsureFileOptions {
  /** The file's mode; any execute bit makes it an `-exec` content file written 0o755, else 0o644. */
  mode: number
  /** Expected sha512 (hex, or SRI `sha512-…`). When the content differs: `ERR_CAS_INTEGRITY`, nothing stored. */
  digest?: string
}

/** Result of {@link Store.checkPkgFilesIntegrity}. Names are the index's file names. */
export interface IntegrityResult {
  /** True when every file is present with the right content. */
  passed: boolean
  /** Files whose content is not in the store. */
  missing: string[]
  /** Files whose content was proven wrong under the path lock. */
  corrupt: string[]
  /** Of `corrupt`, those whose bad content file was removed (so the next install writes it afresh). */
  removed: string[]
}

/** Options of {@link Store.checkPkgFilesIntegrity}. */
export interface CheckOptions {
  /**
   * Content paths already verified during this install. Paths in it are not checked again, and every path that
   * passes is added, so one Set shared across all packages of an install verifies each content file once.
   */
  verifiedFiles?: Set<string>
}
