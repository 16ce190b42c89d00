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
   * tarball as it streams) and throw a coded `CasError` otherwise; files added before a failure are harmless.
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
 * The tarball as the source: fetched (or handed over by the installer's own fetcher) and streamed straight into
 * the tar parser while it is hashed; the `.tgz` itself is never stored. A failure of the fetcher or of its stream
 * is thrown as it came (the installer's own error, or a `FetchError` naming the URL), not as a bad tarball.
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
        return await addFilesFromTarball(ctx, watched.stream, { integrity: options.integrity })
      } catch (err) {
        throw watched.failure ?? err
      }
    },
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
