import { addFilesFromTarball } from '../add/addFilesFromTarball.js'
import type { StoreContext } from '../context.js'
import { InvalidArgumentError } from '../errors.js'
import type { PackageIndex } from '../types.js'
import { fetchTarball } from './fetchTarball.js'

/**
 * Where a package's files come from when the store lacks them. `ensurePackage` decides *whether* to get a package
 * (and makes sure one process at a time does); a source decides *how*. Today that is the package's tarball; a
 * remote cache tier is another source (or one that tries the remote first and falls back to the tarball).
 */
export interface PackageSource {
  /**
   * Adds the package's files to the store and returns its index, ready to be written (`ensurePackage` writes it,
   * with `tarIntegrity`). Must prove the content is the package `integrity` names (the tarball source hashes the
   * tarball before or while reading it) and throw a coded `CasError` otherwise;
   * files added before a failure are harmless.
   */
  addFiles: (ctx: StoreContext) => Promise<PackageIndex>
}

/** A tarball: a URL fetched with Node's fetch, or a function that returns the bytes (a Buffer or a stream). */
export type TarballInput = string | (() => Promise<Uint8Array | AsyncIterable<unknown>>)

/** Options of {@link tarballSource}. */
export interface TarballSourceOptions {
  integrity: string
  headers?: Record<string, string>
  stallTimeoutMs?: number
}

/**
 * The tarball as the source: fetched (or handed over by the installer's own fetcher) and, when small, gathered in
 * memory, else streamed straight into the tar parser while it is hashed; the `.tgz` itself is never stored. A
 * failure of the fetcher or of its stream is thrown as it came (the installer's own error, or a `FetchError`
 * naming the URL), not as a bad tarball.
 */
export function tarballSource (tarball: TarballInput, options: TarballSourceOptions): PackageSource {
  return {
    addFiles: async ctx => {
      const input = typeof tarball === 'string'
        ? await fetchTarball(tarball, { headers: options.headers, stallTimeoutMs: options.stallTimeoutMs })
        : await tarball()
      if (input instanceof Uint8Array) return await addFilesFromTarball(ctx, input, { integrity: options.integrity })
      if (input == null || typeof (input as Partial<AsyncIterable<unknown>>)[Symbol.asyncIterator] !== 'function') {
        throw new InvalidArgumentError('ensurePackage: the tarball function must resolve to a Buffer or a stream')
      }
      const watched = watchFailures(input)
      try {
        return await addFilesFromTarball(ctx, await wholeIfSmall(watched.stream), { integrity: options.integrity })
      } catch (err) {
        throw watched.failure ?? err
      }
    },
  }
}

/**
 * A download of at most this many bytes is gathered into one Buffer, so the tarball is read in memory
 * (`add/tarInMemory.ts`: about 1.5x faster than node-tar's streaming parser for a typical package); a larger one
 * goes on as a stream. Most npm tarballs are a few KB to a few hundred; this bounds the memory of a package in
 * flight.
 */
export const WHOLE_TARBALL_BYTES = 1024 * 1024

/**
 * The stream's bytes as one Buffer when it ends within {@link WHOLE_TARBALL_BYTES}; else a stream of the same
 * bytes (those read so far, then the rest). Chunks that are not bytes are left for the add to refuse. (Typed
 * Uint8Array, which a Buffer is: the published types must not need @types/node.)
 */
export async function wholeIfSmall (source: AsyncIterable<unknown>): Promise<Uint8Array | AsyncIterable<unknown>> {
  const iterator = source[Symbol.asyncIterator]()
  const head: unknown[] = []
  let bytes = 0
  for (;;) {
    const next = await iterator.next()
    if (next.done === true) break
    head.push(next.value)
    if (!(next.value instanceof Uint8Array)) return rest(head, iterator)
    bytes += next.value.length
    if (bytes > WHOLE_TARBALL_BYTES) return rest(head, iterator)
  }
  return Buffer.concat(head as Uint8Array[])
}

async function * rest (head: unknown[], iterator: AsyncIterator<unknown>): AsyncGenerator<unknown> {
  try {
    yield * head
    for (;;) {
      const next = await iterator.next()
      if (next.done === true) return
      yield next.value
    }
  } finally {
    // A reader that stops early (the add failed) stops the source too: a download is cancelled, not left open.
    // (After the end, `return` does nothing.)
    await iterator.return?.()
  }
}

/** Wraps a stream so its own failure (a dropped connection) can be told apart from a failure to parse it. */
function watchFailures (source: AsyncIterable<unknown>): { stream: AsyncIterable<unknown>, failure: unknown } {
  const watched: { stream: AsyncIterable<unknown>, failure: unknown } = { stream: source, failure: undefined }
  watched.stream = (async function * () {
    try {
      yield * source
    } catch (err) {
      watched.failure = err
      throw err
    }
  })()
  return watched
}
