import fs from 'node:fs'
import path from 'node:path'
import { addFilesFromDir } from './add/addFilesFromDir.js'
import { addFilesFromTarball } from './add/addFilesFromTarball.js'
import { ensureDir, type EnsureDirOptions } from './dir/ensureDir.js'
import { fetchFile, type FetchFileOptions, type FetchFileResult } from './fetch/fetchFile.js'
import type { StoreContext } from './context.js'
import { StoreClosedError } from './errors.js'
import { contentPathFor } from './layout/contentPath.js'
import { resolveStoreRoot } from './layout/resolveRoot.js'
import { PathLock } from './lock/pathLock.js'
import type {
  CheckOptions, EnsureFileOptions, EnsureFileResult, IntegrityResult, PackageIndex, PackageIndexInput,
} from './types.js'
import type { TestHooks } from './util/hooks.js'
import { checkPkgFilesIntegrity } from './verify/checkPkgFilesIntegrity.js'
import { ensureFile } from './write/ensureFile.js'

/** Options of {@link openStore}. */
export interface StoreOptions {
  /**
   * fsync each temp file before its rename and the folder after it, so the store survives power loss.
   * Off by default (as in pnpm): it costs two extra syscalls per file and a disk flush each.
   */
  fsync?: boolean
  /** @internal Test-only pause points (see `lib/util/hooks.ts`). */
  _hooks?: TestHooks
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
  readonly #ctx: StoreContext
  #closed = false

  /** @internal Use {@link openStore}. */
  constructor (ctx: StoreContext) {
    this.root = ctx.root
    this.#ctx = ctx
  }

  /** Where the content with this sha512 (hex) and mode lives. Throws `ERR_CAS_BAD_DIGEST` for a malformed digest. */
  filePathFor (digestHex: string, mode: number): string {
    return contentPathFor(this.root, digestHex, mode)
  }

  /**
   * Makes sure `content` is in the store; returns its digest, path, size and `checkedAt`. Never leaves a partial
   * file at a content path; safe against any number of concurrent writers and verifiers of the same content.
   */
  async ensureFile (content: Buffer | AsyncIterable<unknown>, options: EnsureFileOptions): Promise<EnsureFileResult> {
    return await ensureFile(this.#open(), content, options)
  }

  /**
   * Verifies that every file of `index` is in the store with the right content; removes content proven corrupt
   * (under the path lock, after re-checking). Renews `checkedAt` in `index` for files it re-hashed.
   */
  async checkPkgFilesIntegrity (index: PackageIndexInput, options?: CheckOptions): Promise<IntegrityResult> {
    return await checkPkgFilesIntegrity(this.#open(), index, options)
  }

  /** Adds every file under `dir` (symlinks followed only inside it) and returns the package index. */
  async addFilesFromDir (dir: string): Promise<PackageIndex> {
    return await addFilesFromDir(this.#open(), dir)
  }

  /** Adds the files of a `.tgz` or `.tar` (Buffer or stream) and returns the package index. */
  async addFilesFromTarball (tarball: Buffer | AsyncIterable<unknown>): Promise<PackageIndex> {
    return await addFilesFromTarball(this.#open(), tarball)
  }

  /**
   * Returns the path of a complete directory entry for `key` (a git clone, an unpacked toolchain…), running
   * `fill(tempDir)` to create it if no process has yet. One process fills, the others wait and reuse its result;
   * an interrupted fill leaves nothing at the final path.
   */
  async ensureDir (key: string, fill: (dir: string) => Promise<void> | void, options?: EnsureDirOptions): Promise<string> {
    return await ensureDir(this.#open(), key, fill, options)
  }

  /**
   * Makes sure the content with `options.digest`/`options.integrity` is in the store, downloading it from `url`
   * if needed. One process downloads a digest at a time; an interrupted download is resumed with an HTTP range
   * request by the next caller; nothing is stored unless the whole file matches.
   */
  async fetchFile (url: string, options: FetchFileOptions): Promise<FetchFileResult> {
    return await fetchFile(this.#open(), url, options)
  }

  /** Closes the lock files (dropping any OS lock still held). The store cannot be used afterwards. */
  async close (): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    this.#ctx.lock.close()
  }

  #open (): StoreContext {
    if (this.#closed) throw new StoreClosedError()
    return this.#ctx
  }
}

/**
 * Opens (creating if needed) the store in `dir`. As pnpm does, the store root is `<dir>/v11` unless `dir` already
 * ends in `v11`, so `openStore('~/.local/share/pnpm/store')` shares pnpm 11/12's store.
 */
export async function openStore (dir: string, options: StoreOptions = {}): Promise<Store> {
  const root = resolveStoreRoot(dir)
  const tmpDir = path.join(root, 'tmp')
  const locksDir = path.join(root, 'locks')
  await fs.promises.mkdir(path.join(root, 'files'), { recursive: true })
  await fs.promises.mkdir(tmpDir, { recursive: true })
  await fs.promises.mkdir(locksDir, { recursive: true })
  const lock = new PathLock(locksDir, { hooks: options._hooks, enabled: options._unsafeNoLocks !== true })
  return new Store({ root, tmpDir, lock, fsync: options.fsync === true, hooks: options._hooks })
}
