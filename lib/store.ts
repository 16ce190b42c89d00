import fs from 'node:fs'
import path from 'node:path'
import { addFilesFromDir } from './add/addFilesFromDir.js'
import { addFilesFromTarball, type AddFilesFromTarballOptions } from './add/addFilesFromTarball.js'
import type { AddLimits } from './add/limits.js'
import { ensureDir, type EnsureDirOptions } from './dir/ensureDir.js'
import { ensurePackage, type EnsurePackageOptions, type EnsurePackageResult } from './ensure/ensurePackage.js'
import { fetchFile, type FetchFileOptions, type FetchFileResult } from './fetch/fetchFile.js'
import { importPackage, type ImportPackageOptions, type ImportPackageResult } from './import/importPackage.js'
import { createStoreContext, type StoreContext } from './context.js'
import { FileAccessError, InvalidArgumentError, ReadOnlyStoreError, StoreClosedError } from './errors.js'
import { assertPackageIndexKey } from './pkgIndex/key.js'
import { contentPathFor } from './layout/contentPath.js'
import { resolveStoreRoot, storeFormatOf } from './layout/resolveRoot.js'
import { loadFlock } from './lock/flock.js'
import type { WaitInfo } from './lock/lockWait.js'
import type { PathLock } from './lock/pathLock.js'
import type { IndexBackend, PackageIndexEntry } from './pkgIndex/backend.js'
import { EmptyIndex } from './pkgIndex/emptyIndex.js'
import { IndexDb, INDEX_DB_FILE } from './pkgIndex/indexDb.js'
import { isLostIndex, LostIndex } from './pkgIndex/lostIndex.js'
import { V10Index } from './pkgIndex/v10Index.js'
import { resolveRemote, type RemoteOptions } from './remote/options.js'
import { pushStore } from './remote/pushStore.js'
import { RemoteTier } from './remote/remoteTier.js'
import type {
  PullOutcome, PushOptions, PushReport, RemoteErrorHandler, RemoteStats,
} from './remote/types.js'
import { pruneStore, type PruneOptions, type PruneReport } from './maint/pruneStore.js'
import { storeStats, type StoreStats } from './maint/storeStats.js'
import { verifyStore, type VerifyReport, type VerifyStoreOptions } from './maint/verifyStore.js'
import type {
  CheckOptions, EnsureFileOptions, EnsureFileResult, IntegrityResult, PackageIndex, PackageIndexInput,
} from './types.js'
import { asBufferOrStream } from './util/bytes.js'
import type { TestHooks } from './util/hooks.js'
import { defaultThreads, ThreadPool } from './threads/threadPool.js'
import { siblingModule } from './threads/threadStores.js'
import { StoreThreads } from './threads/storeThreads.js'
import { checkPkgFilesIntegrity } from './verify/checkPkgFilesIntegrity.js'
import { ensureFile } from './write/ensureFile.js'

/** Options of {@link openStore}. */
export interface StoreOptions {
  /**
   * fsync each temp file before its rename and the folder after it, so the store survives power loss.
   * Off by default (as in pnpm): it costs two extra syscalls per file and a disk flush each.
   */
  fsync?: boolean
  /**
   * How long a package index read or write waits, in all, while another process (pnpm, another install) holds
   * `index.db` locked, before failing with `ERR_CAS_INDEX_BUSY`. Default 60 000 ms.
   */
  indexBusyTimeoutMs?: number
  /**
   * Open without writing anything: for a store on a read-only mount (a Docker image layer, an NFS export, a CI
   * cache) or one this user may not write. Reads and verification work; nothing is created in the store, corrupt
   * content is reported, never removed, and every write fails with `ERR_CAS_READ_ONLY`. Package indexes are read
   * from a private snapshot of index.db (see `pkgIndex/readOnlySnapshot.ts`).
   */
  readOnly?: boolean
  /**
   * Called while a write or repair waits more than a couple of seconds for a path lock another process holds,
   * then about once a second, with the holder (its pid, from /proc/locks on Linux) and how long it has waited.
   */
  onWait?: (info: WaitInfo) => void
  /** Give up waiting for a path lock after this long, with `ERR_CAS_LOCK_TIMEOUT` naming the holder. Default: wait. */
  lockTimeoutMs?: number
  /**
   * A shared remote cache (nginx WebDAV or any server answering GET/HEAD/PUT): a URL, or `{ url, token, headers,
   * upload: false, … }`. Packages the store lacks are read through from it; packages added from a registry are
   * uploaded behind the install. See `lib/remote/`.
   */
  remote?: string | RemoteOptions
  /**
   * Told about remote-tier problems that do not fail an install (server down: once; a bad object on the
   * server; an upload abandoned at close). Default: a process warning.
   */
  onRemoteError?: RemoteErrorHandler
  /**
   * Worker threads for `addFilesFromDir` of a folder of 64 files or more, and for the re-hashing of
   * `checkPkgFilesIntegrity` / `verifyStore`. Default: one per core, at most 4; none on a single core. 0: none, all
   * work on the calling thread. Threads start on first use, never keep the process alive, and end with `close()`.
   */
  threads?: number
  /** @internal Test-only pause points (see `lib/util/hooks.ts`). */
  _hooks?: TestHooks
  /** @internal Test-only clock that grace periods are judged by (prune, verify, the verifier); default `Date.now`. */
  _now?: () => number
  /** @internal Benchmark-only: skip the path lock entirely. Unsafe with concurrent writers or verifiers. */
  _unsafeNoLocks?: boolean
}

/**
 * An open content-addressable store. Safe to use from many async tasks at once, and alongside other processes
 * (and worker threads) that have the same store open.
 */
export class Store {
  /** Absolute path of the store root (the `v11` folder). */
  readonly root: string
  /** `v11` (pnpm 11/12: index.db) or `v10` (pnpm 10: JSON package indexes, read-only). */
  readonly format: 'v10' | 'v11'
  /** Opened with `readOnly`: every write fails with `ERR_CAS_READ_ONLY`. */
  readonly readOnly: boolean
  readonly #ctx: StoreContext
  readonly #indexes: IndexBackend
  /** The remote tier and the threads themselves (the context holds them only as the verbs see them). */
  readonly #remote: RemoteTier | undefined
  readonly #threads: StoreThreads | undefined
  #closed = false
  #closing: Promise<void> | undefined
  /** Operations in flight (see {@link Store.close}), and who waits for them to end. */
  #busy = 0
  #idle: (() => void) | undefined

  /** @internal Use {@link openStore}. */
  constructor (
    ctx: StoreContext, indexes: IndexBackend, parts: { remote?: RemoteTier, threads?: StoreThreads } = {},
  ) {
    this.#remote = parts.remote
    this.#threads = parts.threads
    this.root = ctx.root
    this.format = indexes.format
    this.readOnly = ctx.readOnly === true
    this.#ctx = ctx
    this.#indexes = indexes
  }

  /** Where the content with this sha512 (hex) and mode lives. Throws `ERR_CAS_BAD_DIGEST` for a malformed digest. */
  filePathFor (digestHex: string, mode: number): string {
    return contentPathFor(this.root, digestHex, mode)
  }

  /**
   * Makes sure `content` is in the store; returns its digest, path, size and `checkedAt`. Never leaves a partial
   * file at a content path; safe against any number of concurrent writers and verifiers of the same content.
   */
  async ensureFile (
    content: Uint8Array | AsyncIterable<unknown>, options: EnsureFileOptions,
  ): Promise<EnsureFileResult> {
    return await this.#during(ensureFile(this.#writable('add content'), asBufferOrStream(content), options))
  }

  /**
   * Verifies that every file of `index` is in the store with the right content; removes content proven corrupt
   * (under the path lock, after re-checking). Renews `checkedAt` in `index` for files it re-hashed.
   */
  async checkPkgFilesIntegrity (index: PackageIndexInput, options?: CheckOptions): Promise<IntegrityResult> {
    return await this.#during(checkPkgFilesIntegrity(this.#open(), index, options))
  }

  /**
   * Stores a package index under `key` (`<tarball integrity>\t<name>@<version>`, see `packageIndexKey`), in
   * `index.db` exactly as pnpm 11/12 write it. Writes from one tick share a transaction; a row is never half
   * written. A v10 store refuses with `ERR_CAS_INDEX_READ_ONLY`.
   */
  async writePackageIndex (key: string, index: PackageIndex): Promise<void> {
    this.#writable('write a package index')
    await this.#during(this.#openIndexes().write(key, index))
  }

  /** The package index stored under `key`, or undefined. `ERR_CAS_INDEX_CORRUPT` when its row is unreadable. */
  async readPackageIndex (key: string): Promise<PackageIndex | undefined> {
    return await this.#during(this.#openIndexes().read(key))
  }

  /**
   * Every package index in the store (index.db rows, or v10 JSON files), read a page at a time so a store of any
   * size is listed in bounded memory. An unreadable index is yielded with `error` and the scan goes on.
   */
  listPackageIndexes (): AsyncGenerator<PackageIndexEntry> {
    return this.#openIndexes().list()
  }

  /**
   * Removes the package index under `key` (and pnpm 12's aliases of it); true when there was one. With the
   * `revision` a listing gave, only if the index is still that one (nobody rewrote it meanwhile).
   */
  async deletePackageIndex (key: string, revision?: string): Promise<boolean> {
    this.#writable('delete a package index')
    return await this.#during(this.#openIndexes().delete(key, revision))
  }

  /**
   * Checks every package in the store (all its indexes, every file they name) and, with `fix`, repairs what it
   * can: corrupt content removed under the path lock, the indexes of packages that lost files deleted, stale temp
   * files removed, never anything changed within `graceMs`. The work of `cas verify`.
   */
  async verifyStore (options?: VerifyStoreOptions): Promise<VerifyReport> {
    if (options?.fix === true) this.#writable('repair (--fix)')
    return await this.#during(verifyStore(this.#open(), this.#openIndexes(), options))
  }

  /** Removes content no package index references, never content changed within `graceMs`. `cas prune`. */
  async pruneStore (options?: PruneOptions): Promise<PruneReport> {
    if (options?.dryRun !== true) this.#writable('prune')
    return await this.#during(pruneStore(this.#open(), this.#openIndexes(), options))
  }

  /** File, byte and package counts, and how much the packages share. `cas stat`. */
  async storeStats (): Promise<StoreStats> {
    return await this.#during(storeStats(this.#open(), this.#openIndexes()))
  }

  /**
   * Materializes the package `index` at `targetDir` (clone, hard link or copy), whole or not at all: built in a temp
   * folder of this call's own and renamed into place, verified first, names checked. Concurrent importers of one
   * target all succeed; a complete target is kept (`imported: false`) unless `force`. See `lib/import/`.
   */
  async importPackage (
    index: PackageIndex, targetDir: string, options?: ImportPackageOptions,
  ): Promise<ImportPackageResult> {
    return await this.#during(importPackage(this.#open(), index, targetDir, options))
  }

  /**
   * Adds every file under `dir` (symlinks followed only inside it) and returns the package index. A file changed
   * between the walk and its read fails with `ERR_CAS_FILE_CHANGED`; `options.maxEntries` bounds the file count.
   */
  async addFilesFromDir (dir: string, options?: AddLimits): Promise<PackageIndex> {
    return await this.#during(addFilesFromDir(this.#writable('add files'), dir, options))
  }

  /**
   * Adds the files of a `.tgz` or `.tar` (a Buffer or any Uint8Array, or a stream) and returns the package index,
   * in bounded memory. Past `options` (`AddLimits`: size, entries, expansion ratio) it fails with
   * `ERR_CAS_BAD_TARBALL`. With `integrity`, the tarball is hashed as it streams and a mismatch fails with
   * `ERR_CAS_INTEGRITY` (write no index).
   */
  async addFilesFromTarball (
    tarball: Uint8Array | AsyncIterable<unknown>, options?: AddFilesFromTarballOptions,
  ): Promise<PackageIndex> {
    return await this.#during(addFilesFromTarball(this.#writable('add files'), asBufferOrStream(tarball), options))
  }

  /**
   * Makes sure a package (a lockfile entry: integrity, pkgId, tarball URL or fetcher) is in the store with its
   * index, and returns the index. Already stored: at once, no lock. Otherwise one process (and one task) fetches,
   * adds and indexes it while the others wait; the tarball is checked against `integrity` as it streams.
   */
  async ensurePackage (options: EnsurePackageOptions): Promise<EnsurePackageResult> {
    return await this.#during(ensurePackage(this.#writable('add a package'), this.#openIndexes(), options))
  }

  /**
   * Returns the path of a complete directory entry for `key` (a git clone, an unpacked toolchain…), running
   * `fill(tempDir)` to create it if no process has yet. One process fills, the others wait and reuse its result;
   * an interrupted fill leaves nothing at the final path.
   */
  async ensureDir (
    key: string, fill: (dir: string) => Promise<void> | void, options?: EnsureDirOptions,
  ): Promise<string> {
    return await this.#during(ensureDir(this.#writable('fill a directory entry'), key, fill, options))
  }

  /**
   * Makes sure the content with `options.digest`/`options.integrity` is in the store, downloading it from `url`
   * if needed. One process downloads a digest at a time; an interrupted download is resumed with an HTTP range
   * request by the next caller; nothing is stored unless the whole file matches.
   */
  async fetchFile (url: string, options: FetchFileOptions): Promise<FetchFileResult> {
    return await this.#during(fetchFile(this.#writable('fetch into the store'), url, options))
  }

  /** The remote cache's base URL (without credentials), or undefined when the store has none. */
  get remoteUrl (): string | undefined {
    return this.#remote?.url
  }

  /** Requests and bytes exchanged with the remote so far (undefined without a remote). */
  get remoteStats (): RemoteStats | undefined {
    return this.#remote?.stats
  }

  /**
   * `cas pull`: brings the package under `key` from the remote into this store (files verified, then the local
   * index). `ERR_CAS_REMOTE_UNAVAILABLE` when the server fails; a miss or a wrong object is the outcome.
   */
  async pullFromRemote (key: string): Promise<PullOutcome> {
    return await this.#during(this.#remoteTier().pull(assertPackageIndexKey(key)))
  }

  /** `cas push`: uploads every package of this store the remote lacks (files first, then the index). */
  async pushToRemote (options?: PushOptions): Promise<PushReport> {
    return await this.#during(pushStore(this.#openIndexes(), this.#remoteTier(), options))
  }

  /**
   * Closes the store: new calls fail with `ERR_CAS_CLOSED` at once; the calls already in flight are waited for
   * (they finish as they would have, except a wait for a key lock another process or store holds, which gives up
   * with `ERR_CAS_CLOSED`), then background uploads to the remote (at most its `closeTimeoutMs`); then the threads,
   * the index and the lock files close, dropping any OS lock still held. An iteration of `listPackageIndexes` is not
   * waited for: its next page fails with `ERR_CAS_CLOSED`. A second call waits for the first.
   */
  async close (): Promise<void> {
    this.#closing ??= this.#close()
    await this.#closing
  }

  async #close (): Promise<void> {
    this.#closed = true
    this.#ctx.closing.started = true // calls only waiting for a lock give up now, rather than hold the close up
    // Why wait: this store's owner record is what tells a cleaner (`cas verify --fix`, `cas prune` in another
    // process) that its temp files and its imports' folders in node_modules belong to a live writer. Released under
    // an operation still running, it would leave them protected by their age alone (test/races/closeMidOperation).
    if (this.#busy > 0) await new Promise<void>(resolve => { this.#idle = resolve })
    try {
      await this.#remote?.close()
    } catch {
      // close() reports through onRemoteError; the store closes regardless.
    }
    try {
      await this.#threads?.close()
      await this.#indexes.close()
    } finally {
      this.#ctx.importJournal?.close() // before the owner record is released: a cleaner never sees it in use
      this.#ctx.tempOwner?.release()
      this.#ctx.lock.close()
    }
  }

  /** Counts `work` as in flight until it settles, for {@link close}. Every verb goes through here. */
  async #during<T> (work: Promise<T>): Promise<T> {
    this.#busy++
    try {
      return await work
    } finally {
      if (--this.#busy === 0) this.#idle?.()
    }
  }

  #remoteTier (): RemoteTier {
    this.#open()
    const tier = this.#remote
    if (tier === undefined) throw new InvalidArgumentError('This store was opened without a remote; pass openStore(dir, { remote: url }).')
    return tier
  }

  #openIndexes (): IndexBackend {
    this.#open()
    return this.#indexes
  }

  #open (): StoreContext {
    if (this.#closed) throw new StoreClosedError()
    return this.#ctx
  }

  #writable (what: string): StoreContext {
    const ctx = this.#open()
    if (this.readOnly) throw new ReadOnlyStoreError(this.root, what)
    return ctx
  }
}

/**
 * Opens (creating if needed) the store in `dir`. As pnpm does, the store root is `<dir>/v11` unless `dir` already
 * ends in `v11`, so `openStore('~/.local/share/pnpm/store')` shares pnpm 11/12's store; its `index.db` is opened
 * (created when absent) at once, so a damaged one fails here with `ERR_CAS_INDEX_CORRUPT`. A path ending in `v10`
 * opens a pnpm 10 store as it is: content verbs work, package indexes are read from its JSON files.
 */
export async function openStore (dir: string, options: StoreOptions = {}): Promise<Store> {
  if (options.readOnly === true) return await openReadOnly(dir, options)
  const root = resolveStoreRoot(dir)
  if (options._unsafeNoLocks !== true) loadFlock() // a missing native build fails here: ERR_CAS_NATIVE_ADDON
  const remote = options.remote === undefined ? undefined : resolveRemote(options.remote)
  const ctx = createStoreContext({
    root,
    fsync: options.fsync === true,
    hooks: options._hooks,
    now: options._now,
    locks: options._unsafeNoLocks !== true,
    wait: { onWait: options.onWait, timeoutMs: options.lockTimeoutMs },
  })
  await createStoreDirs(root, [path.join(root, 'files'), ctx.tmpDir, path.join(root, 'locks')])
  if (!isWritableDir(root)) throw new ReadOnlyStoreError(root, 'open it for writing')
  const indexes = storeFormatOf(root) === 'v10'
    ? new V10Index(root)
    : isLostIndex(root)
      ? new LostIndex(root)
      : await IndexDb.open(root, { busyTimeoutMs: busyTimeoutOf(options), durable: options.fsync === true })
  const threads = storeThreads(root, options, ctx.lock)
  const tier = remote === undefined ? undefined : new RemoteTier(ctx, indexes, remote, options.onRemoteError)
  const withTier = tier === undefined ? ctx : { ...ctx, remote: tier }
  return new Store(threads === undefined ? withTier : { ...withTier, threads }, indexes, {
    ...(tier === undefined ? {} : { remote: tier }),
    ...(threads === undefined ? {} : { threads }),
  })
}

/** The store's thread pool (not started yet), or undefined for `threads: 0` and on a single core. */
function storeThreads (root: string, options: StoreOptions, lock: PathLock): StoreThreads | undefined {
  const count = options.threads ?? defaultThreads()
  if (!Number.isInteger(count) || count < 0) {
    throw new InvalidArgumentError(`openStore: threads must be a whole number >= 0, got ${String(options.threads)}`)
  }
  if (count === 0) return undefined
  // Each thread needs descriptors of its own to start (its event loop's). The lock descriptors this store keeps
  // open between locks must not be what it lacks: out of descriptors, a thread fails to start (the verb then runs
  // on the calling thread alone), and from TypeScript sources its loader's own thread start hangs for good.
  // Threads start at most twice per store (a verifier may start fewer than all, an add the rest), so giving the
  // idle ones back there costs one open per stripe used later, at most twice.
  const pool = new ThreadPool(count, siblingModule(import.meta.url, 'threads/threadStores'), () => lock.closeIdle())
  return new StoreThreads(pool, { root, fsync: options.fsync === true })
}

/** Opens a store for reading only: creates nothing, takes no lock (no write can race a reader that never removes). */
async function openReadOnly (dir: string, options: StoreOptions): Promise<Store> {
  const root = resolveStoreRoot(dir)
  if (!fs.existsSync(root)) {
    throw new InvalidArgumentError(`openStore: there is no store at ${root}, and a read-only open creates none. Check the path.`)
  }
  const indexes = storeFormatOf(root) === 'v10'
    ? new V10Index(root)
    : isLostIndex(root)
      ? new LostIndex(root)
      : fs.existsSync(path.join(root, INDEX_DB_FILE))
        ? await IndexDb.open(root, { busyTimeoutMs: busyTimeoutOf(options), durable: false, readOnly: true })
        : new EmptyIndex(root)
  const ctx = createStoreContext({ root, fsync: false, hooks: options._hooks, now: options._now, readOnly: true })
  return new Store(ctx, indexes)
}

function busyTimeoutOf (options: StoreOptions): number {
  return options.indexBusyTimeoutMs ?? 60_000
}

function isWritableDir (dir: string): boolean {
  try {
    fs.accessSync(dir, fs.constants.W_OK)
    return true
  } catch {
    return false
  }
}

/** mkdir -p of the store's folders; a read-only file system or a denied parent says so with a coded error. */
async function createStoreDirs (root: string, dirs: string[]): Promise<void> {
  for (const dir of dirs) {
    try {
      await fs.promises.mkdir(dir, { recursive: true })
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code
      if (code === 'EROFS' || code === 'EACCES' || code === 'EPERM' || (code === 'ENOENT' && !fs.existsSync(root))) {
        throw new ReadOnlyStoreError(root, `create the store's folders (${code})`)
      }
      throw new FileAccessError(dir, err as NodeJS.ErrnoException)
    }
  }
}
