import { FetchError } from '../errors.js'

/** Options of {@link fetchTarball}. */
export interface FetchTarballOptions {
  /** Extra request headers (an `authorization` for a private registry). */
  headers?: Record<string, string>
  /** Fail with `ERR_CAS_FETCH_TIMEOUT` when no byte arrives for this long (default 30 s). */
  stallTimeoutMs?: number
}

const ADVICE = 'Nothing was indexed; retry when the server answers.'

/**
 * Requests `url` with Node's fetch and returns its body as a stream of chunks, to be parsed as it arrives (never
 * written to disk as a whole). Every failure is a `FetchError` naming the URL: `ERR_CAS_FETCH_STATUS` for a
 * non-2xx answer, `ERR_CAS_FETCH_NETWORK` for a refused or dropped connection (also mid-body),
 * `ERR_CAS_FETCH_TIMEOUT` when the server goes silent for `stallTimeoutMs`. The stall clock only runs while we
 * wait for the network, never while the consumer (the tar parser, the disk) is busy with what arrived.
 * `accept-encoding: identity`: the integrity is of the bytes as published; no transfer compression may change them.
 */
export async function fetchTarball (
  url: string, options: FetchTarballOptions = {},
): Promise<AsyncIterable<Uint8Array>> {
  const stallMs = options.stallTimeoutMs ?? 30_000
  const abort = new AbortController()
  let response: Response
  try {
    response = await stallGuarded(abort, stallMs, async () => await fetch(url, {
      headers: { 'accept-encoding': 'identity', ...options.headers },
      signal: abort.signal,
    }))
  } catch (err) {
    throw fetchFailure(url, err, abort.signal.aborted, stallMs)
  }
  if (!response.ok || response.status === 206 || response.body === null) {
    await response.body?.cancel().catch(() => {})
    const detail = response.status === 206
      ? 'a partial answer (206) to a request for the whole file'
      : `HTTP ${response.status} ${response.statusText}`
    throw new FetchError('ERR_CAS_FETCH_STATUS', url, detail, response.status, undefined, ADVICE)
  }
  return body(url, response.body, abort, stallMs)
}

async function * body (
  url: string, stream: ReadableStream<Uint8Array>, abort: AbortController, stallMs: number,
): AsyncGenerator<Uint8Array> {
  const reader = stream.getReader()
  let done = false
  try {
    for (;;) {
      let next: Awaited<ReturnType<typeof reader.read>>
      try {
        next = await stallGuarded(abort, stallMs, async () => await reader.read())
      } catch (err) {
        throw fetchFailure(url, err, abort.signal.aborted, stallMs)
      }
      if (next.done) {
        done = true
        return
      }
      yield next.value
    }
  } finally {
    // The consumer stopped early (a bad tarball, a failed write): drop the connection rather than drain it.
    if (!done) await reader.cancel().catch(() => {})
  }
}

/** Runs `op`, aborting the request when it takes longer than `stallMs`. */
async function stallGuarded<T> (abort: AbortController, stallMs: number, op: () => Promise<T>): Promise<T> {
  const timer = setTimeout(() => { abort.abort() }, stallMs)
  try {
    return await op()
  } finally {
    clearTimeout(timer)
  }
}

function fetchFailure (url: string, err: unknown, stalled: boolean, stallMs: number): FetchError {
  if (err instanceof FetchError) return err
  if (stalled) return new FetchError('ERR_CAS_FETCH_TIMEOUT', url, `no data for ${stallMs} ms`, undefined, err, ADVICE)
  const cause = (err as Error)?.cause
  const detail = cause instanceof Error ? cause.message : (err as Error)?.message ?? String(err)
  return new FetchError('ERR_CAS_FETCH_NETWORK', url, detail, undefined, err, ADVICE)
}
