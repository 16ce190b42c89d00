/**
 * Every error cas-store throws on purpose is a {@link CasError}: `code` is stable (match on it, not on the message),
 * the message says what happened and what to do about it.
 */
export class CasError extends Error {
  /** Stable machine-readable code, always starting with `ERR_CAS_`. */
  readonly code: string

  constructor (code: string, message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.name = new.target.name
    this.code = code
  }
}

/** A digest or SRI string that is not a well-formed sha512 (128 lowercase hex chars / `sha512-<base64>`). */
export class BadDigestError extends CasError {
  constructor (value: unknown) {
    super('ERR_CAS_BAD_DIGEST',
      `Not a sha512 digest: ${JSON.stringify(String(value).slice(0, 200))}. ` +
      'Pass 128 lowercase hex characters, or an SRI string "sha512-<base64>".')
  }
}

/** Content did not hash to the digest the caller promised. Nothing was left in the store. */
export class IntegrityError extends CasError {
  readonly expected: string
  readonly actual: string

  /** `expected`/`actual`: hex sha512 for content, SRI strings (`sha512-…`) for a package tarball. */
  constructor (expected: string, actual: string, what = 'content', outcome = 'nothing was stored') {
    const shown = (value: string): string => /^[0-9a-f]{128}$/.test(value) ? `sha512 ${value.slice(0, 16)}…` : value
    super('ERR_CAS_INTEGRITY',
      `The ${what} hashes to ${shown(actual)}, not the expected ${shown(expected)}; ${outcome}. ` +
      'The source is corrupt or the expected digest is wrong: fetch it again or fix the digest.')
    this.expected = expected
    this.actual = actual
  }
}

/**
 * A file name (a tarball entry, or a name in a package index) that would land outside the package: absolute, with
 * `..`, a NUL, a backslash or a drive letter.
 */
export class UnsafePathError extends CasError {
  readonly entry: string

  /** `problem`: a name a folder really holds but no package index can carry (see `addFilesFromDir`). */
  constructor (entry: string, problem?: string) {
    super('ERR_CAS_UNSAFE_PATH', problem === undefined
      ? `File name ${JSON.stringify(entry)} points outside the package; refusing the whole package. ` +
        'The tarball or package index is malformed or malicious: do not install it.'
      : `File name ${JSON.stringify(entry)} cannot be named in a package index (${problem}); refusing the whole ` +
        'folder. Rename the file, or leave it out of the folder.')
    this.entry = entry
  }
}

/** Something that is not a regular file stands where a content file should be. */
export class NotAFileError extends CasError {
  readonly path: string

  constructor (path: string) {
    super('ERR_CAS_NOT_A_FILE',
      `${path} is not a regular file but should hold store content. ` +
      'Something other than cas-store wrote there; remove it by hand, then retry.')
    this.path = path
  }
}

/** A file could not be read or written for a reason other than it being absent (permissions, I/O error). */
export class FileAccessError extends CasError {
  readonly path: string

  // `cause` is a Node system error, typed by the fields read: the published types need no @types/node.
  constructor (path: string, cause: Error & { code?: string }) {
    super('ERR_CAS_FILE_ACCESS',
      `Cannot access ${path}: ${cause.code ?? cause.message}. Check its permissions and the disk, then retry.`,
      { cause })
    this.path = path
  }
}

/** A bad tarball: not tar, or truncated. */
export class BadTarballError extends CasError {
  constructor (detail: string, cause?: unknown) {
    // A refusal by a limit already says what to do; a parse failure means bad bytes.
    const hint = /option$/.test(detail) ? '' : ' Fetch it again; it may be truncated.'
    super('ERR_CAS_BAD_TARBALL', `Cannot read the tarball: ${detail}.${hint}`, { cause })
  }
}

/** A tarball or folder with more files than the add verb's `maxEntries` limit (a fan-out of links, or a bomb). */
export class TooManyEntriesError extends CasError {
  readonly limit: number

  constructor (what: 'tarball' | 'folder', limit: number) {
    super('ERR_CAS_TOO_MANY_ENTRIES',
      `The ${what} holds more than ${limit} files; nothing was indexed. A real package has far fewer: check ` +
      `it${what === 'folder' ? ' for links that fan out' : ''}, or raise the maxEntries option if you trust it.`)
    this.limit = limit
  }
}

/** A folder whose files add up to more bytes than the add verb's `maxUnpackedBytes` limit (a sparse file, a bomb). */
export class TooLargeError extends CasError {
  readonly limit: number

  constructor (what: string, limit: number, bytes: number) {
    super('ERR_CAS_TOO_LARGE',
      `${what} holds more than ${limit} bytes (at least ${bytes}); nothing was indexed. A sparse file can claim ` +
      'any size: check it, or raise the maxUnpackedBytes option if you trust it.')
    this.limit = limit
  }
}

/**
 * A file changed between the moment an add walked it and the moment it was read (replaced by a link, a FIFO or
 * another file): what would be read is not what was checked, so nothing of it is stored.
 */
export class FileChangedError extends CasError {
  readonly path: string

  constructor (path: string, detail: string) {
    super('ERR_CAS_FILE_CHANGED',
      `${path} changed while it was being added (${detail}); nothing was indexed. Something is modifying the ` +
      'folder: add it again once it is left alone.')
    this.path = path
  }
}

/** A write to a store opened read-only, or an open for writing of a store this process cannot write. */
export class ReadOnlyStoreError extends CasError {
  readonly root: string

  constructor (root: string, what: string) {
    super('ERR_CAS_READ_ONLY',
      `Cannot ${what}: the store ${root} is read-only here (opened with readOnly, a read-only mount, or no ` +
      'write permission). Reading and verifying work with openStore(dir, { readOnly: true }), as cas verify, stat ' +
      'and cat do by themselves; to write, use a writable copy or mount, or fix its permissions.')
    this.root = root
  }
}

/** fs-ext, the addon cas-store takes OS locks with, has no native build (its install script was not allowed). */
export class NativeAddonError extends CasError {
  constructor (cause: Error & { code?: string }) {
    super('ERR_CAS_NATIVE_ADDON',
      `fs-ext, which cas-store takes its locks between processes with, has no native build (${cause.message}). ` +
      'Allow its install script and install again: npm: "allowScripts" in package.json; pnpm: pnpm approve-builds.',
      { cause })
  }
}

/** The store was used after `close()`. */
export class StoreClosedError extends CasError {
  /** `waitingFor`: what a call waited for when the store began to close (it gave up rather than hold the close up). */
  constructor (waitingFor?: string) {
    super('ERR_CAS_CLOSED', waitingFor === undefined
      ? 'This store was closed; open it again with openStore() before using it.'
      : `This store was closed while this call waited for ${waitingFor}, which another process (or store) holds; open the store again and retry the call.`)
  }
}

/** Invalid arguments to a public function. */
export class InvalidArgumentError extends CasError {
  constructor (message: string) {
    super('ERR_CAS_INVALID_ARGUMENT', message)
  }
}

/** Waiting for a lock took longer than the caller's `timeoutMs`. */
export class LockTimeoutError extends CasError {
  readonly key: string
  readonly holder: { pid: number, hostname: string, since?: number } | undefined

  constructor (key: string, holder: { pid: number, hostname: string, since?: number } | undefined, waitedMs: number) {
    const who = holder === undefined
      ? 'another process'
      : `pid ${holder.pid} on ${holder.hostname}` +
        (holder.since === undefined ? '' : ` (holding it for ${Math.round((Date.now() - holder.since) / 1000)} s)`)
    super('ERR_CAS_LOCK_TIMEOUT',
      `Gave up waiting for ${key} after ${Math.round(waitedMs / 1000)} s: it is held by ${who}. ` +
      'Wait for that process to finish, or stop it if it is stuck; its lock goes away when it exits.')
    this.key = key
    this.holder = holder
  }
}

/** A lock file under `locks/` cannot be opened read-write (a folder in its place, wrong permissions). */
export class LockFileError extends CasError {
  readonly path: string

  // `cause` is a Node system error, typed by the fields read: the published types need no @types/node.
  constructor (path: string, cause: Error & { code?: string }) {
    super('ERR_CAS_LOCK_FILE',
      `Cannot use the lock file ${path} (${cause.code ?? cause.message}). Lock files hold no data: remove it if a ` +
      'folder or another file stands there, or make it readable and writable by every user of the store.', { cause })
    this.path = path
  }
}

/** A writer's temp file vanished before its rename: something other than its writer removed it. */
export class TempFileLostError extends CasError {
  readonly path: string

  constructor (temp: string, target: string) {
    super('ERR_CAS_TEMP_LOST',
      `The temp file ${temp} vanished before it could become ${target}: something removed it (a cleanup of tmp/ ` +
      'that does not know cas-store?). Retry; clean the store only with cas prune or cas verify --fix, which ' +
      'leave live writers\' temp files alone.')
    this.path = temp
  }
}

/** An HTTP download failed: a bad status, a network error, a stall, or a file of another size than expected. */
export class FetchError extends CasError {
  readonly url: string
  readonly status: number | undefined

  constructor (code: 'ERR_CAS_FETCH_STATUS' | 'ERR_CAS_FETCH_NETWORK' | 'ERR_CAS_FETCH_TIMEOUT' | 'ERR_CAS_FETCH_SIZE', url: string,
    detail: string, status?: number, cause?: unknown, advice = 'The partial download is kept; retry to resume it.') {
    super(code, `Downloading ${url} failed: ${detail}. ${advice}`, { cause })
    this.url = url
    this.status = status
  }
}

/** The store's package index (`index.db`, or a v10 JSON index file) cannot be read: it is not what it should be. */
export class IndexCorruptError extends CasError {
  readonly path: string

  /**
   * `scope`: `'one-index'` when a single package index (a row of index.db, a v10 JSON file) is damaged and the
   * rest is readable; `'whole-file'` (default) when the file itself cannot be used.
   */
  constructor (path: string, detail: string, options: { cause?: unknown, scope?: 'one-index' | 'whole-file' } = {}) {
    const { cause, scope = 'whole-file' } = options
    super('ERR_CAS_INDEX_CORRUPT', scope === 'one-index'
      ? `A package index in ${path} is unreadable: ${detail}. Content files were not touched. Run ` +
        '`cas verify --fix` to delete that one index (the next install fetches its package again).'
      : `The package index ${path} is unreadable: ${detail}. Content files were not touched. Restore it from a ` +
        'backup; moving it aside makes every package look gone (installs refetch them, and prune refuses to run).',
    { cause })
    this.path = path
  }
}

/** Another process kept `index.db` locked for longer than the store's busy timeout. */
export class IndexBusyError extends CasError {
  readonly path: string

  constructor (path: string, waitedMs: number, cause?: unknown) {
    super('ERR_CAS_INDEX_BUSY',
      `${path} stayed locked by another process for ${Math.round(waitedMs / 1000)} s. Retry when the other ` +
      'install finishes, or raise the indexBusyTimeoutMs option of openStore().', { cause })
    this.path = path
  }
}

/** A write to a store whose package indexes this library only reads (pnpm 10's v10 JSON indexes). */
export class IndexReadOnlyError extends CasError {
  constructor (root: string) {
    super('ERR_CAS_INDEX_READ_ONLY',
      `${root} is a pnpm 10 (v10) store: its JSON package indexes are read-only here. Open the v11 store ` +
      '(pnpm 11/12) to write package indexes.')
  }
}

/** `pruneStore` found no package index at all in a store that holds content: it would remove everything. */
export class PruneRefusedError extends CasError {
  constructor (root: string) {
    super('ERR_CAS_PRUNE_REFUSED',
      `${root} holds content but no package index, so every file would look unused. If its index.db was moved ` +
      'aside or lost, restore it first; if the store really has no packages, prune with --force (allowNoIndexes).')
  }
}

/** `index.db` is empty (0 bytes) while the store holds content: the package indexes were lost, not never written. */
export class IndexLostError extends CasError {
  readonly path: string

  constructor (path: string) {
    super('ERR_CAS_INDEX_LOST',
      `${path} is empty but the store holds content: its package indexes were lost (a failed copy, a full disk?). ` +
      'It is left as it is. Restore it from a backup; or, to start over, delete it (installs then fetch every ' +
      'package again, and `cas prune --force` removes the content nothing references).')
    this.path = path
  }
}

/** A scan was stopped by its abort signal (Ctrl-C) before it could finish; what it did so far is complete. */
export class InterruptedError extends CasError {
  constructor (what: string) {
    super('ERR_CAS_INTERRUPTED', `${what} was interrupted before it could finish; nothing is half done. Run it again.`)
  }
}

/**
 * A package cannot be imported because files its index names are missing from the store or corrupt (found before
 * the import, or removed while it ran). Nothing was left at the target. The installer should fetch the package
 * again (its index is stale), e.g. after `cas verify --fix` removed damaged content.
 */
export class MissingContentError extends CasError {
  /** The package's file names (as the index names them) whose content is missing or corrupt. */
  readonly files: string[]

  constructor (files: string[]) {
    const shown = files.slice(0, 5).map(f => JSON.stringify(f)).join(', ') +
      (files.length > 5 ? `, and ${files.length - 5} more` : '')
    super('ERR_CAS_MISSING_CONTENT',
      `The store lacks the content of ${files.length} file(s) of this package (missing or corrupt): ${shown}. ` +
      'Nothing was imported. Fetch the package again (re-add its tarball) and retry.')
    this.files = files
  }
}

/** An explicitly requested import method (`clone`, `hardlink`) cannot work between this store and the target. */
export class ImportMethodError extends CasError {
  readonly method: string
  /** The errno code that proved it (EXDEV, ENOTSUP, EPERM…). */
  readonly reason: string

  constructor (method: string, reason: string, why: string, cause?: unknown) {
    super('ERR_CAS_IMPORT_METHOD',
      `Cannot import by ${method}: ${why} (${reason}). Use method 'auto', which falls back to what works, or 'copy'.`,
      { cause })
    this.method = method
    this.reason = reason
  }
}

/**
 * Two file names of one package cannot both exist in one folder: one names a file the other uses as a folder
 * (`a` and `a/b`), or they differ only in case on a case-insensitive file system.
 */
export class NameCollisionError extends CasError {
  readonly names: string[]

  constructor (names: string[], detail: string) {
    super('ERR_CAS_NAME_COLLISION',
      `The package's file names ${names.map(n => JSON.stringify(n)).join(' and ')} collide: ${detail}. ` +
      'The package index is malformed, or the target file system cannot hold this package; nothing was imported.')
    this.names = names
  }
}

/**
 * The remote cache could not be used: unreachable, timing out, refusing the credentials, or answering an
 * unexpected status. Installs go on without it (from the registry); the store reports this once and stops asking
 * the remote for the rest of its life. Messages name the method and URL, never a header (tokens stay out of logs).
 */
export class RemoteUnavailableError extends CasError {
  readonly url: string
  readonly status: number | undefined

  constructor (method: string, url: string, detail: string, status?: number, cause?: unknown) {
    super('ERR_CAS_REMOTE_UNAVAILABLE',
      `The remote cache failed: ${method} ${url}: ${detail}. Installs go on from the registry without it; ` +
      (status === 401 || status === 403
        ? 'check the token the remote was given.'
        : 'check that the server is up and the URL is right.'), { cause })
    this.url = url
    this.status = status
  }
}

/**
 * The remote cache holds something wrong: a file whose bytes do not hash to its name, an index that does not
 * decode, or an index naming a file the server lacks. Nothing of it was stored; the package came from the
 * registry instead, and the next upload of that package overwrites the bad object.
 */
export class RemoteCorruptError extends CasError {
  readonly url: string

  constructor (url: string, detail: string, cause?: unknown) {
    super('ERR_CAS_REMOTE_CORRUPT',
      `The remote cache holds a bad object at ${url}: ${detail}. It was not stored; the package is fetched from ` +
      'its tarball instead. If this repeats, delete that object on the server.', { cause })
    this.url = url
  }
}

/** The local store lacks (or holds wrong) a file a package index names: that package cannot be uploaded. */
export class LocalFileMissingError extends CasError {
  constructor (filePath: string) {
    super('ERR_CAS_REMOTE_LOCAL_MISSING',
      `${filePath} is named by a package index but missing from the local store, so the package was not uploaded. ` +
      'Run `cas verify --fix`; the next install fetches the package again.')
  }
}
