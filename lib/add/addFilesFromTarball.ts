import { once } from 'node:events'
import { Parser, type ReadEntry } from 'tar'
import type { StoreContext } from '../context.js'
import { integrityHasher } from '../digest/tarballIntegrity.js'
import { BadTarballError, CasError, InvalidArgumentError, UnsafePathError } from '../errors.js'
import type { PackageIndex } from '../types.js'
import { SYNC_IO_LIMIT } from '../util/hash.js'
import { ensureFile } from '../write/ensureFile.js'
import { addPackageMeta } from './addPackageMeta.js'

const REGULAR_FILE_TYPES = new Set(['File', 'OldFile', 'ContiguousFile'])

/** Options of {@link addFilesFromTarball}. */
export interface AddFilesFromTarballOptions {
  /**
   * The tarball's SRI (as a lockfile has it). Its bytes are hashed as they stream into the parser, with no second
   * pass; a mismatch fails with `ERR_CAS_INTEGRITY` and no index is returned. The strongest algorithm the string
   * names is checked (sha512; sha384, sha256 or sha1 in old lockfiles).
   */
  integrity?: string
}

/**
 * Adds the regular files of a tarball (gzipped or plain; detected from its first bytes) and returns the package
 * index, with the package's `manifest` and `requiresBuild` filled in (ready for `writePackageIndex`).
 * The tarball is parsed as a stream: small entries are buffered one at a time, large ones are streamed
 * straight into `ensureFile`, so memory stays bounded for any size.
 *
 * Names are relative to the package: the top folder (`package/` in npm tarballs, any name elsewhere) is dropped,
 * as pnpm does. Directories, links and devices are skipped. An entry whose name is absolute or climbs out with
 * `..` rejects the whole tarball with `ERR_CAS_UNSAFE_PATH`: such a tarball is malformed or hostile. File modes
 * come from the tar headers. When a name appears twice, the later entry wins, as it would on extraction.
 * With `integrity`, the bytes given (the .tgz as downloaded) must hash to it; a tarball that is also unreadable
 * fails with `ERR_CAS_BAD_TARBALL`, which says more.
 */
export async function addFilesFromTarball (
  ctx: StoreContext, tarball: Buffer | AsyncIterable<unknown>, options: AddFilesFromTarballOptions = {},
): Promise<PackageIndex> {
  if (!Buffer.isBuffer(tarball) &&
      (tarball == null || typeof (tarball as AsyncIterable<unknown>)[Symbol.asyncIterator] !== 'function')) {
    throw new InvalidArgumentError('addFilesFromTarball: pass a Buffer or a readable stream of a .tgz or .tar')
  }
  const hasher = options.integrity === undefined ? undefined : integrityHasher(options.integrity)
  const index: PackageIndex = { algo: 'sha512', files: new Map() }
  const latest = new Map<string, number>()
  const writes: Array<Promise<void>> = []
  let failure: unknown
  let rejectAborted!: (err: unknown) => void
  // Rejected on the first failure: a large entry being streamed into ensureFile stops there (and its temp file is
  // removed) instead of waiting for bytes a failed parser will never deliver.
  const aborted = new Promise<never>((_resolve, reject) => { rejectAborted = reject })
  aborted.catch(() => {})
  const parser = new Parser({ strict: true })

  const fail = (err: unknown): void => {
    failure ??= err
    rejectAborted(failure)
  }
  parser.on('entry', (entry: ReadEntry) => {
    let name: string | undefined
    try {
      name = packageRelativeName(entry.path)
    } catch (err) {
      fail(err)
    }
    if (failure !== undefined || name === undefined || !REGULAR_FILE_TYPES.has(entry.type)) {
      entry.resume()
      return
    }
    const seq = writes.length
    const fileName = name
    latest.set(fileName, seq)
    const mode = (entry.mode ?? 0o644) & 0o777
    // Every entry is read through `guarded`: a failed parse never ends the entry it is in, so a reader that waited
    // for the entry's end alone would wait forever.
    const bytes = guarded(entry, aborted)
    const content = entry.size <= SYNC_IO_LIMIT ? collect(bytes) : Promise.resolve(bytes)
    const write = content
      .then(async data => await ensureFile(ctx, data, { mode }))
      .then(added => {
        if (latest.get(fileName) !== seq) return
        index.files.set(fileName, { digest: added.digest, mode, size: added.size, checkedAt: added.checkedAt })
      })
    write.catch(fail)
    writes.push(write)
  })

  const parsed = new Promise<void>((resolve, reject) => {
    parser.on('error', reject)
    parser.on('end', resolve)
  })
  parsed.catch(fail)
  try {
    if (Buffer.isBuffer(tarball)) {
      hasher?.update(tarball)
      parser.end(tarball)
    } else {
      for await (const chunk of tarball) {
        if (failure !== undefined) break
        hasher?.update(chunk as Buffer)
        if (!parser.write(chunk as Buffer)) await Promise.race([once(parser, 'drain'), parsed, aborted])
      }
      parser.end()
    }
    await parsed
  } catch (err) {
    fail(err)
  }
  await Promise.allSettled(writes)
  if (failure !== undefined) {
    if (failure instanceof CasError) throw failure
    throw new BadTarballError((failure as Error).message ?? String(failure), failure)
  }
  hasher?.verify('tarball', 'no package index may be written for it (files already added are named by their own ' +
    'hash and harmless; `cas prune` reclaims them)')
  return await addPackageMeta(ctx, index)
}

/** The entry's name inside the package, or undefined for the top folder itself. Throws for escaping names. */
export function packageRelativeName (raw: string): string | undefined {
  const normalized = raw.replace(/\\/g, '/')
  if (normalized.startsWith('/') || /^[a-zA-Z]:/.test(normalized)) throw new UnsafePathError(raw)
  const parts = normalized.split('/').filter(part => part !== '' && part !== '.')
  if (parts.includes('..')) throw new UnsafePathError(raw)
  parts.shift()
  return parts.length === 0 ? undefined : parts.join('/')
}

/** Yields the entry's bytes until it ends or `aborted` rejects (then throws: a cut-short entry is not stored). */
async function * guarded (entry: ReadEntry, aborted: Promise<never>): AsyncGenerator<Buffer> {
  const chunks = entry[Symbol.asyncIterator]()
  try {
    for (;;) {
      const next = await Promise.race([chunks.next(), aborted])
      if (next.done === true) return
      yield next.value as Buffer
    }
  } finally {
    // The consumer stopped early (its write failed) or the parse failed: drain the entry, so the parser is not
    // left waiting on it and the rest of the input can be consumed (or abandoned) promptly.
    entry.resume()
  }
}

async function collect (bytes: AsyncIterable<Buffer>): Promise<Buffer> {
  const chunks: Buffer[] = []
  for await (const chunk of bytes) chunks.push(chunk)
  return Buffer.concat(chunks)
}
