import { setMaxListeners } from 'node:events'
import { Semaphore } from 'async-mutex'
import { CasError, RemoteCorruptError, RemoteUnavailableError } from '../errors.js'
import { collectUpTo } from '../util/bytes.js'
import type { ResolvedRemote } from './options.js'
import type { RemoteStats } from './types.js'

/** An answer read whole: what a range request needs of it. */
export interface BufferedAnswer {
  status: number
  contentType: string | null
  contentRange: string | null
  body: Buffer
}

/** Reads get ahead of background uploads in the request queue, so uploads never slow an install's downloads. */
export const PRIORITY_READ = 1
export const PRIORITY_UPLOAD = 0

/** A PUT body: bytes, or a function opening a stream of exactly `size` bytes (called once, when the request starts). */
export type PutBody = Uint8Array | (() => AsyncIterable<Uint8Array>)

/**
 * The remote cache's three verbs (HEAD, GET, PUT) over Node's fetch, with every request counted and bounded: at
 * most `concurrency` in flight (background uploads at most half of them, and queued behind reads), each failing
 * after `timeoutMs` without an answer or a body byte. Any answer but
 * 2xx (and 404 for HEAD/GET, which means "not there") is a {@link RemoteUnavailableError} naming the method, the
 * URL and the status, never a header: the auth token must not reach a log.
 */
export class RemoteHttp {
  readonly baseUrl: string
  readonly stats: RemoteStats = { requests: { GET: 0, HEAD: 0, PUT: 0 }, bytesDownloaded: 0, bytesUploaded: 0 }
  readonly #headers: Record<string, string>
  readonly #slots: Semaphore
  readonly #uploadSlots: Semaphore
  readonly #timeoutMs: number
  readonly #closing = new AbortController()

  constructor (remote: ResolvedRemote) {
    this.baseUrl = remote.baseUrl
    this.#headers = { ...remote.headers, 'accept-encoding': 'identity' }
    this.#slots = new Semaphore(remote.concurrency)
    // Background uploads never hold more than half the slots: an install's reads always find one free soon.
    this.#uploadSlots = new Semaphore(Math.max(1, Math.floor(remote.concurrency / 2)))
    this.#timeoutMs = remote.timeoutMs
    // One listener per request in flight, by design (close aborts them all).
    setMaxListeners(Infinity, this.#closing.signal)
  }

  /** The absolute URL of a path of the remote layout. */
  urlOf (rel: string): string {
    return `${this.baseUrl}/${rel}`
  }

  /** Whether the server has `rel`. */
  async head (rel: string, priority = PRIORITY_READ): Promise<boolean> {
    return await this.#request('HEAD', rel, priority, undefined, async response => {
      await response.body?.cancel()
      return response.status !== 404
    })
  }

  /**
   * GETs `rel` and hands its body (counted, under the stall timeout) to `consume`; undefined on 404. An error
   * thrown by `consume` (e.g. the bytes do not match their name) passes through as it is.
   */
  async get<T> (
    rel: string, consume: (body: AsyncIterable<Uint8Array>, size: number | undefined, response: Response) => Promise<T>,
    priority = PRIORITY_READ, headers?: Record<string, string>,
  ): Promise<T | undefined> {
    return await this.#request('GET', rel, priority, undefined, async (response, kick, fail) => {
      if (response.status === 404) {
        await response.body?.cancel()
        return undefined
      }
      const length = response.headers.get('content-length')
      const stats = this.stats
      async function * counted (): AsyncGenerator<Uint8Array> {
        const reader = response.body?.getReader()
        if (reader === undefined) return
        try {
          while (true) {
            let next: { done: true, value?: undefined } | { done: false, value: Uint8Array }
            try {
              next = await reader.read() as typeof next
            } catch (err) {
              throw fail(err)
            }
            if (next.done) return
            kick()
            stats.bytesDownloaded += next.value.length
            yield next.value
          }
        } finally {
          reader.releaseLock()
          await response.body?.cancel().catch(() => {})
        }
      }
      return await consume(counted(), length === null ? undefined : Number(length), response)
    }, headers)
  }

  /**
   * GETs `rel` whole into memory, or only `range` (a `Range` header value) of it: the status, the headers a range
   * answer needs, and the body. Undefined on 404. A body past `maxBytes` is cut off with `ERR_CAS_REMOTE_CORRUPT`
   * as soon as it gets there: no answer can take more memory than the caller expects of it.
   */
  async getBuffer (
    rel: string, range: string | undefined, maxBytes: number, priority = PRIORITY_READ,
  ): Promise<BufferedAnswer | undefined> {
    return await this.get(rel, async (body, _size, response) => ({
      status: response.status,
      contentType: response.headers.get('content-type'),
      contentRange: response.headers.get('content-range'),
      body: await collectUpTo(body, maxBytes,
        () => new RemoteCorruptError(this.urlOf(rel), `the answer is larger than the ${maxBytes} bytes it can rightly hold`)),
    }), priority, range === undefined ? undefined : { range })
  }

  /** PUTs `size` bytes at `rel` (the server's 201 or 204). */
  async put (rel: string, body: PutBody, size: number, priority = PRIORITY_UPLOAD): Promise<void> {
    await this.#request('PUT', rel, priority, { body, size }, async response => {
      await response.body?.cancel()
    })
  }

  /** Aborts every request in flight and refuses new ones (the store's close timeout ran out). */
  abort (): void {
    this.#closing.abort()
  }

  async #request<T> (
    method: 'GET' | 'HEAD' | 'PUT', rel: string, priority: number, upload: { body: PutBody, size: number } | undefined,
    handle: (response: Response, kick: () => void, fail: (err: unknown) => Error) => Promise<T>,
    extraHeaders?: Record<string, string>,
  ): Promise<T> {
    const url = this.urlOf(rel)
    const releaseUpload = priority === PRIORITY_UPLOAD ? (await this.#uploadSlots.acquire())[1] : undefined
    const [, releaseSlot] = await this.#slots.acquire(1, priority)
    const release = (): void => {
      releaseSlot()
      releaseUpload?.()
    }
    const controller = new AbortController()
    let stalled = false
    const onClose = (): void => controller.abort()
    this.#closing.signal.addEventListener('abort', onClose)
    let timer = setTimeout(() => { stalled = true; controller.abort() }, this.#timeoutMs)
    const kick = (): void => {
      clearTimeout(timer)
      timer = setTimeout(() => { stalled = true; controller.abort() }, this.#timeoutMs)
    }
    const fail = (err: unknown): Error => {
      if (err instanceof RemoteUnavailableError) return err
      const detail = stalled
        ? `no answer for ${this.#timeoutMs} ms`
        : this.#closing.signal.aborted
          ? 'abandoned when the store closed'
          : describeNetworkError(err)
      return new RemoteUnavailableError(method, url, detail, undefined, err)
    }
    try {
      if (this.#closing.signal.aborted) throw new RemoteUnavailableError(method, url, 'the store is closing')
      this.stats.requests[method]++
      const init: RequestInit & { duplex?: 'half' } = { method, headers: { ...this.#headers, ...extraHeaders }, signal: controller.signal }
      if (upload !== undefined) {
        const { size } = upload
        // A Buffer is sent in slices too: the stall timer is reset by each one that goes out, so a slow but
        // flowing upload (an 8 MiB pack at 300 KB/s) is not taken for a dead server.
        const body = typeof upload.body === 'function' ? upload.body : slicesOf(upload.body)
        init.headers = { ...this.#headers, 'content-length': String(size), 'content-type': 'application/octet-stream' }
        const stats = this.stats
        init.body = (async function * () {
          for await (const chunk of body()) {
            kick()
            stats.bytesUploaded += chunk.length
            yield chunk
          }
        })() as unknown as RequestInit['body']
        init.duplex = 'half'
      }
      let response: Response
      try {
        response = await fetch(url, init)
      } catch (err) {
        throw localCause(err) ?? fail(err)
      }
      kick()
      const missOk = method !== 'PUT' && response.status === 404
      if (!response.ok && !missOk) {
        await response.body?.cancel().catch(() => {})
        throw new RemoteUnavailableError(method, url, `HTTP ${response.status} ${response.statusText}`.trim(), response.status)
      }
      return await handle(response, kick, fail)
    } finally {
      clearTimeout(timer)
      this.#closing.signal.removeEventListener('abort', onClose)
      release()
    }
  }
}

/** Slices of an upload's bytes, as a streamed body (see `#request`). */
const UPLOAD_SLICE = 64 * 1024

function slicesOf (bytes: Uint8Array): () => AsyncIterable<Uint8Array> {
  return async function * () {
    for (let at = 0; at < bytes.length; at += UPLOAD_SLICE) yield bytes.subarray(at, at + UPLOAD_SLICE)
  }
}

/**
 * A failure of our own PUT body (the store's file vanished, or no longer hashes to its name) surfaces from fetch
 * wrapped in a network error; it is the local store's problem, not the server's, so it is unwrapped.
 */
function localCause (err: unknown): CasError | undefined {
  for (let e: unknown = err; e instanceof Error; e = e.cause) {
    if (e instanceof CasError) return e
  }
  return undefined
}

function describeNetworkError (err: unknown): string {
  const cause = (err as Error)?.cause as (Error & { code?: string }) | undefined
  if (cause?.code !== undefined) return cause.code === 'ECONNREFUSED' ? 'connection refused (is the server up?)' : cause.code
  return cause?.message ?? (err as Error)?.message ?? String(err)
}
