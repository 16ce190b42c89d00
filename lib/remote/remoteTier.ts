import { Semaphore } from 'async-mutex'
import type { StoreContext } from '../context.js'
import { CasError, RemoteCorruptError, RemoteUnavailableError } from '../errors.js'
import type { IndexBackend } from '../pkgIndex/backend.js'
import type { PackageIndex } from '../types.js'
import { PRIORITY_READ, RemoteHttp } from './http.js'
import type { PullOutcome, RemoteErrorHandler, RemoteStats, UploadResult } from './types.js'
import type { ResolvedRemote } from './options.js'
import { pullPackage } from './pullPackage.js'
import { uploadPackage } from './uploadPackage.js'

/** What a read-through found: the package (now in the local store), or what the next upload should repair. */
export interface ReadThroughResult {
  /** The package's index, written to the local store; undefined when the install must use the tarball. */
  index?: PackageIndex
  /** Digests the remote holds wrong (or lacks though its index names them): the write-behind overwrites them. */
  repair?: Set<string>
}

/** Packages uploaded at once in the background (each uploads its files `concurrency` at a time). */
const UPLOAD_PACKAGES_AT_ONCE = 4

/**
 * The remote tier of one open store: read-through (`readThrough`), write-behind (`scheduleUpload`), and the
 * explicit `cas pull` / `cas push` work. Owns the policy for failures, which never fail an install:
 *
 * - The server failing (down, 5xx, timeout, refused credentials) is reported once, through `onRemoteError`, and
 *   the tier then stops using the remote for the rest of the store's life: one warning, not one per file, and no
 *   timeout paid per package against a dead server. A PUT refused with 401/403 stops uploads only (a read-only
 *   token: say `upload: false`).
 * - A wrong object on the server is reported once per object; the package comes from its tarball, and the
 *   upload that follows overwrites the wrong object.
 */
export class RemoteTier {
  /** @internal The HTTP client (kept out of the published types: it names fetch and Node types). */
  readonly http: RemoteHttp
  readonly #ctx: StoreContext
  readonly #indexes: IndexBackend
  readonly #remote: ResolvedRemote
  readonly #onError: RemoteErrorHandler
  #down: RemoteUnavailableError | undefined
  #uploadsOff = false
  readonly #reported = new Set<string>()
  readonly #pending = new Map<string, Promise<void>>()
  readonly #uploadSlots = new Semaphore(UPLOAD_PACKAGES_AT_ONCE)
  #closed = false

  constructor (
    ctx: StoreContext, indexes: IndexBackend, remote: ResolvedRemote, onError: RemoteErrorHandler | undefined,
  ) {
    this.#ctx = ctx
    this.#indexes = indexes
    this.#remote = remote
    this.http = new RemoteHttp(remote)
    this.#onError = onError ?? (error => { process.emitWarning(error.message, { code: error.code }) })
  }

  /** The remote's base URL (credentials removed). */
  get url (): string {
    return this.http.baseUrl
  }

  /** Requests and bytes so far. */
  get stats (): RemoteStats {
    return this.http.stats
  }

  /** Whether uploads are configured and still on. */
  get uploading (): boolean {
    return this.#remote.upload && !this.#uploadsOff && this.#down === undefined && !this.#closed
  }

  /**
   * Read-through for one package the local store lacks: the remote's index and the files it names, verified,
   * all in the local store. The caller writes the local index (ensurePackage adds `tarIntegrity`). Never throws
   * for the remote's sake: a miss, a wrong object or a failing server all come back without `index` (the caller
   * uses the tarball). Local failures (the disk, index.db) do throw.
   */
  async readThrough (key: string): Promise<ReadThroughResult> {
    if (this.#down !== undefined || this.#closed) return {}
    let outcome: PullOutcome
    try {
      outcome = await pullPackage(this.#ctx, undefined, this.http, key, this.#remote.concurrency)
    } catch (err) {
      if (err instanceof RemoteUnavailableError) {
        this.report(err)
        return {}
      }
      throw err
    }
    if (outcome.status === 'pulled') return { index: outcome.index }
    if (outcome.status === 'bad') {
      this.report(outcome.error)
      return { repair: outcome.badFiles }
    }
    return {}
  }

  /** The explicit form for `cas pull`: the outcome itself, and a failing server throws. */
  async pull (key: string): Promise<PullOutcome> {
    return await pullPackage(this.#ctx, this.#indexes, this.http, key, this.#remote.concurrency)
  }

  /**
   * Write-behind: uploads the package in the background (files first, index last), at most a few packages at
   * once and behind any read in the request queue. Returns at once; problems go to `onRemoteError`. A package
   * already being uploaded by this store is not queued twice. `repair`: digests to overwrite on the server.
   */
  scheduleUpload (key: string, index: PackageIndex, repair?: ReadonlySet<string>): void {
    if (!this.uploading || this.#pending.has(key)) return
    index = { ...index, files: new Map(index.files) } // the caller may go on using its index
    const job = (async () => {
      try {
        await this.#uploadSlots.runExclusive(async () => {
          if (!this.uploading) return
          const options = { concurrency: this.#remote.concurrency, overwrite: repair }
          await uploadPackage(this.#ctx, this.http, key, index, options)
        })
      } catch (err) {
        if (!this.#closed) this.report(err) // once close() gave up on them, their aborts are summed up in one report
      } finally {
        this.#pending.delete(key)
      }
    })()
    this.#pending.set(key, job)
  }

  /** Uploads one package now (for `cas push`); a failing server throws. */
  async upload (key: string, index: PackageIndex, skipIfIndexed: boolean): Promise<UploadResult> {
    return await uploadPackage(this.#ctx, this.http, key, index,
      { concurrency: this.#remote.concurrency, skipIfIndexed, priority: PRIORITY_READ })
  }

  /** Background uploads not finished yet. */
  get pendingUploads (): number {
    return this.#pending.size
  }

  /**
   * Reports a problem through `onRemoteError` under the policy above: a failing server once (then the remote is
   * off), a wrong object once per object, anything else (a local file gone before its upload) each time.
   */
  report (err: unknown): void {
    const error = err instanceof CasError ? err : new CasError('ERR_CAS_REMOTE_UNAVAILABLE', `The remote cache failed: ${String((err as Error)?.message ?? err)}`, { cause: err })
    if (error instanceof RemoteUnavailableError) {
      if (error.status !== undefined && [401, 403].includes(error.status) && /PUT /.test(error.message) && this.#down === undefined) {
        if (this.#uploadsOff) return
        this.#uploadsOff = true
        this.#deliver(new RemoteUnavailableError('PUT', error.url,
          `HTTP ${error.status}: the server refuses uploads with these credentials; uploads are off for this run ` +
          '(open the store with `upload: false` for read-only use)', error.status, error))
        return
      }
      if (this.#down !== undefined) return
      this.#down = error
    } else if (error instanceof RemoteCorruptError) {
      if (this.#reported.has(error.url)) return
      this.#reported.add(error.url)
    }
    this.#deliver(error)
  }

  /**
   * Waits for the background uploads, at most `closeTimeoutMs`; then aborts what is left (the server keeps no
   * partial object: each PUT lands whole or not at all, and an index only after its files) and reports it once.
   */
  async close (): Promise<void> {
    if (this.#closed) return
    const pending = [...this.#pending.values()]
    if (pending.length > 0) {
      let timer: NodeJS.Timeout | undefined
      const timedOut = await Promise.race([
        Promise.allSettled(pending).then(() => false),
        new Promise<boolean>(resolve => { timer = setTimeout(() => resolve(true), this.#remote.closeTimeoutMs) }),
      ])
      clearTimeout(timer)
      if (timedOut) {
        const left = this.#pending.size
        this.#closed = true
        this.http.abort()
        await Promise.allSettled([...this.#pending.values()])
        this.#deliver(new RemoteUnavailableError('PUT', this.url,
          `${left} package upload(s) were still running after ${this.#remote.closeTimeoutMs} ms and were abandoned ` +
          '(the server holds none of them half-way; `cas push` uploads them later)'))
      }
    }
    this.#closed = true
    this.http.abort()
  }

  #deliver (error: CasError): void {
    try {
      // An async handler's rejection too: unhandled, it would end the process (Node's default) mid-install.
      const returned: unknown = this.#onError(error)
      if (typeof (returned as PromiseLike<unknown> | undefined)?.then === 'function') {
        Promise.resolve(returned).catch(() => {}) // any thenable, not only a native promise
      }
    } catch {
      // A throwing handler must not turn a background problem into an install failure.
    }
  }
}
