import { Parser, type ReadEntry } from 'tar'
import type { StoreContext } from '../context.js'
import { integrityHasher } from '../digest/tarballIntegrity.js'
import { BadTarballError, CasError, InvalidArgumentError, UnsafePathError } from '../errors.js'
import type { EnsureFileResult, FileInfo, PackageIndex } from '../types.js'
import { SYNC_IO_LIMIT } from '../util/hash.js'
import { ensureFile } from '../write/ensureFile.js'
import { addPackageMeta } from './addPackageMeta.js'
import { tarEntriesInMemory, type TarEntry } from './tarInMemory.js'
import { DEFAULT_MAX_UNPACKED_BYTES, TarballBudget, type AddLimits } from './limits.js'
import { asBufferOrStream } from '../util/bytes.js'

const REGULAR_FILE_TYPES = new Set(['File', 'OldFile', 'ContiguousFile'])
/** Input is handed to the parser this much at a time: one slice unpacks to at most ~16 MiB (gzip's ratio cap). */
const FEED_SLICE = 16 * 1024
/** Small entries read into memory and waiting for their writes, at most (bytes, and count). */
const MAX_BUFFERED_BYTES = 32 * 1024 * 1024
const MAX_BUFFERED_ENTRIES = 64

/** Options of {@link addFilesFromTarball}: the limits of every add verb, and the tarball's expected integrity. */
export interface AddFilesFromTarballOptions extends AddLimits {
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
 * A tarball given whole (a Buffer) that unpacks to at most 16 MiB and is a plain one is read in memory
 * (`tarInMemory.ts`): every entry is judged before a file is written, so a refused tarball, its integrity
 * included, adds nothing. Any other is parsed as a stream: small entries are buffered one at a time, large ones
 * are streamed straight into `ensureFile`, and the parser is fed only as fast as the writes go, so memory stays
 * bounded for any tarball. Limits (`options`, see `AddLimits`): a tarball with too many entries, or that unpacks
 * past `maxUnpackedBytes` or expands more than `maxRatio` times, is refused with `ERR_CAS_BAD_TARBALL`
 * (`ERR_CAS_TOO_MANY_ENTRIES` for the count) as soon as that is known; when streamed, files already added stay
 * unindexed content (`cas prune` removes them).
 *
 * Names are relative to the package: the top folder (`package/` in npm tarballs, any name elsewhere) is dropped,
 * as pnpm does. Directories, links and devices are skipped. An entry whose name is absolute or climbs out with
 * `..` rejects the whole tarball with `ERR_CAS_UNSAFE_PATH`: such a tarball is malformed or hostile. File modes
 * come from the tar headers. When a name appears twice, the later entry wins, as it would on extraction.
 * With `integrity`, the bytes given (the .tgz as downloaded) must hash to it; a tarball that is also unreadable
 * fails with `ERR_CAS_BAD_TARBALL`, which says more.
 */
export async function addFilesFromTarball (
  ctx: StoreContext, input: Uint8Array | AsyncIterable<unknown>, options: AddFilesFromTarballOptions = {},
): Promise<PackageIndex> {
  const tarball = asBufferOrStream(input) // any Uint8Array: the published types need no @types/node
  if (!Buffer.isBuffer(tarball) &&
      (tarball == null || typeof (tarball as AsyncIterable<unknown>)[Symbol.asyncIterator] !== 'function')) {
    throw new InvalidArgumentError('addFilesFromTarball: pass a Buffer or a readable stream of a .tgz or .tar')
  }
  // Read whole only within maxUnpackedBytes: past it, how soon the input alone is refused depends on how it is
  // fed (`TarballBudget.fed`), and that is the streaming reading's to decide.
  const maxBytes = options.maxUnpackedBytes ?? DEFAULT_MAX_UNPACKED_BYTES
  const inMemory = Buffer.isBuffer(tarball) && tarball.length <= maxBytes
    ? tarEntriesInMemory(tarball)
    : undefined
  const index = inMemory !== undefined
    ? await addEntries(ctx, tarball as Buffer, inMemory, options)
    : await unpackTarball(ctx, tarball, options)
  return await addPackageMeta(ctx, index)
}

/** Files of a tarball given whole, whose entries were read in memory (`tarInMemory.ts`), in at once. */
const ENTRY_WRITES = 8

/**
 * The add of a tarball read in memory: the same rules and limits as {@link unpackTarball}, in the same order
 * (names and limits entry by entry, then the integrity), but every entry is judged before any file is written,
 * so a tarball refused for any reason, its integrity included, adds nothing to the store.
 */
async function addEntries (
  ctx: StoreContext, tarball: Buffer, entries: TarEntry[], options: AddFilesFromTarballOptions,
): Promise<PackageIndex> {
  const hasher = options.integrity === undefined ? undefined : integrityHasher(options.integrity)
  const budget = new TarballBudget(options)
  budget.fed(tarball.length)
  // The last entry of a name wins, as on extraction: only it is written.
  const files = new Map<string, TarEntry>()
  for (const entry of entries) {
    const name = packageRelativeName(entry.path)
    if (name !== undefined && REGULAR_FILE_TYPES.has(entry.type)) {
      budget.entry(entry.size)
      files.set(name, entry)
    }
    budget.unpacked(entry.size)
  }
  hasher?.update(tarball)
  hasher?.verify('tarball', 'nothing was added to the store')
  const queue = [...files]
  const infos = new Array<FileInfo>(queue.length)
  let next = 0
  // After a failed write no other starts, and the add returns only once those under way have settled: a failed
  // add leaves no write of its own running behind it.
  let failure: { error: unknown } | undefined
  await Promise.all(Array.from({ length: Math.min(ENTRY_WRITES, queue.length) }, async () => {
    while (failure === undefined && next < queue.length) {
      const at = next++
      const entry = queue[at]![1]
      const mode = (entry.mode ?? 0o644) & 0o777
      try {
        const added = await ensureFile(ctx, entry.body, { mode })
        infos[at] = { digest: added.digest, mode, size: added.size, checkedAt: added.checkedAt }
      } catch (error) {
        failure ??= { error }
      }
    }
  }))
  if (failure !== undefined) throw failure.error
  // In the tarball's order, whatever order the writes finished in: an importer takes the first file as the
  // package's witness when it has no package.json (`import/completeTarget.ts`).
  return { algo: 'sha512', files: new Map(queue.map(([name], at) => [name, infos[at]!])) }
}

/** The tarball's files added to the store, as an index without the manifest (see `addFilesFromTarball`). */
async function unpackTarball (
  ctx: StoreContext, tarball: Buffer | AsyncIterable<unknown>, options: AddFilesFromTarballOptions,
): Promise<PackageIndex> {
  const hasher = options.integrity === undefined ? undefined : integrityHasher(options.integrity)
  const index: PackageIndex = { algo: 'sha512', files: new Map() }
  const latest = new Map<string, number>()
  const budget = new TarballBudget(options)
  const stop = new Stop()
  // Every write not yet settled; and, of those, the ones that can finish without more input and hold memory
  // meanwhile: small entries read into memory, and large ones whose body has been read (see streamEntry). Only
  // those are waited for: a large entry still being read needs the feeder to go on.
  const writes = new Set<Promise<void>>()
  const buffered = new Set<Promise<void>>()
  let bufferedBytes = 0
  let entries = 0
  let slices = 0
  // The ratio is judged by TarballBudget, with a grace for small packages; tar's own check would judge it from the
  // first chunk on.
  const parser = new Parser({ strict: true, maxDecompressionRatio: Infinity })
  const fail = (err: unknown): void => stop.fail(err)

  parser.on('entry', (entry: ReadEntry) => {
    let name: string | undefined
    try {
      if (stop.error !== undefined) throw stop.error
      name = packageRelativeName(entry.path)
      if (name !== undefined && REGULAR_FILE_TYPES.has(entry.type)) budget.entry(entry.size ?? 0)
      else budget.unpacked(entry.size ?? 0) // skipped, but still unpacked: counts towards the limits
    } catch (err) {
      fail(err)
    }
    if (stop.error !== undefined || name === undefined || !REGULAR_FILE_TYPES.has(entry.type)) {
      entry.resume()
      return
    }
    const seq = ++entries
    const fileName = name
    latest.set(fileName, seq)
    const mode = (entry.mode ?? 0o644) & 0o777
    // Every entry is read through `guarded`: a failed parse never ends the entry it is in, so a reader that waited
    // for the entry's end alone would wait forever.
    const bytes = guarded(entry, stop, budget)
    const record = (added: EnsureFileResult): void => {
      if (latest.get(fileName) !== seq) return
      index.files.set(fileName, { digest: added.digest, mode, size: added.size, checkedAt: added.checkedAt })
    }
    const write = (entry.size ?? 0) <= SYNC_IO_LIMIT
      ? collect(bytes).then(async data => {
        bufferedBytes += data.length
        const stored = ensureFile(ctx, data, { mode }).then(record)
        const tracked = stored.catch(fail).finally(() => {
          bufferedBytes -= data.length
          buffered.delete(tracked)
        })
        buffered.add(tracked)
        await stored
      })
      : streamEntry(bytes, mode).then(record)
    const tracked = write.catch(fail).finally(() => writes.delete(tracked))
    writes.add(tracked)
  })
  parser.on('error', fail)
  // A large entry is streamed into its file. Once its body has been read it needs no more input, but its last
  // write may still be pending (with the writer's two batches, 256 KiB, and a descriptor): from then on it counts
  // as a buffered entry, like a small one, so a disk slower than the unpacking holds the feeder back (64 entries at
  // most, so 16 MiB of batches) instead of letting finished entries pile up.
  const streamEntry = async (bytes: AsyncIterable<Buffer>, mode: number): Promise<EnsureFileResult> => {
    let written!: () => void
    const settled = new Promise<void>(resolve => { written = resolve })
    async function * body (): AsyncGenerator<Buffer> {
      yield * bytes
      const tracked = settled.finally(() => { buffered.delete(tracked) })
      buffered.add(tracked)
    }
    try {
      return await ensureFile(ctx, body(), { mode })
    } finally {
      written()
    }
  }
  const ended = new Promise<void>(resolve => parser.on('end', resolve))
  const tooMuchBuffered = (): boolean => bufferedBytes > MAX_BUFFERED_BYTES || buffered.size > MAX_BUFFERED_ENTRIES
  const drained = async (): Promise<void> => {
    let onDrain!: () => void
    const drain = new Promise<void>(resolve => { onDrain = resolve })
    parser.once('drain', onDrain)
    await stop.race(drain, () => parser.off('drain', onDrain))
  }

  // Feeds the parser a slice at a time and waits whenever it says so (it returns false until the entry being
  // read has been consumed), and whenever too many small entries wait in memory for their writes. One slice
  // unpacks to at most ~1,000 times its size, so this bounds what the parser can hold at once.
  const feed = async (chunk: Buffer): Promise<void> => {
    for (let offset = 0; offset < chunk.length && stop.error === undefined; offset += FEED_SLICE) {
      const slice = chunk.subarray(offset, offset + FEED_SLICE)
      budget.fed(slice.length)
      if (!parser.write(slice)) await drained()
      // A source that yields without I/O (a Buffer, a generator) and a parser that never pushes back (small
      // entries) would otherwise run on microtasks alone and starve the writes' I/O callbacks.
      if (++slices % 64 === 0) await new Promise(resolve => setImmediate(resolve))
      // Each settled write shrinks `buffered` and `bufferedBytes` (in its own finally).
      while (stop.error === undefined && tooMuchBuffered()) await Promise.race(buffered)
    }
  }
  try {
    if (Buffer.isBuffer(tarball)) {
      hasher?.update(tarball)
      await feed(tarball)
    } else {
      for await (const chunk of tarball) {
        if (stop.error !== undefined) break
        const bytes = toBuffer(chunk)
        hasher?.update(bytes)
        await feed(bytes)
      }
    }
    if (stop.error === undefined) {
      parser.end()
      await stop.race(ended)
    }
  } catch (err) {
    fail(err)
  }
  while (writes.size > 0) await Promise.allSettled([...writes])
  const failure = stop.error
  if (failure !== undefined) {
    if (failure instanceof CasError) throw failure
    throw new BadTarballError((failure as Error).message ?? String(failure), failure)
  }
  hasher?.verify('tarball', 'no package index may be written for it (files already added are named by their own ' +
    'hash and harmless; `cas prune` reclaims them)')
  return index
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

/** Yields the entry's bytes until it ends or `stop` fails (then throws: a cut-short entry is not stored). */
async function * guarded (entry: ReadEntry, stop: Stop, budget: TarballBudget): AsyncGenerator<Buffer> {
  const chunks = entry[Symbol.asyncIterator]()
  for (;;) {
    // Not `Promise.race([chunks.next(), aborted])`: each race leaves a reaction on the long-lived `aborted`
    // promise that keeps its result (the chunk) reachable until `aborted` settles, i.e. every chunk of a
    // successful add stayed in memory. `stop.race` unregisters itself once the chunk arrives.
    const next = await stop.race(chunks.next())
    if (next.done === true) return
    const chunk = next.value as Buffer
    try {
      budget.unpacked(chunk.length)
    } catch (err) {
      stop.fail(err) // at once: the feeder must not unpack another byte of a bomb while this write cleans up
      throw err
    }
    yield chunk
  }
  // A consumer that stops early (its write failed) leaves the entry paused: the parser then asks for no more
  // input, and the failure, reported through `stop`, ends the add. Resuming it would unpack the rest for nothing.
}

/**
 * The first failure of an add, and a way to wait for something unless (or until) a failure happens, without
 * leaving anything behind once the wait is over.
 */
class Stop {
  error: unknown
  readonly #waiters = new Set<(err: unknown) => void>()

  fail (err: unknown): void {
    if (this.error !== undefined) return
    this.error = err ?? new Error('unknown failure')
    for (const reject of this.#waiters) reject(this.error)
    this.#waiters.clear()
  }

  /** Settles like `promise`, or rejects with the failure as soon as there is one; `cleanup` runs either way. */
  async race<T> (promise: Promise<T>, cleanup?: () => void): Promise<T> {
    if (this.error !== undefined) {
      cleanup?.()
      throw this.error
    }
    return await new Promise<T>((resolve, reject) => {
      this.#waiters.add(reject)
      const done = (): void => {
        this.#waiters.delete(reject)
        cleanup?.()
      }
      promise.then(value => { done(); resolve(value) }, (err: unknown) => { done(); reject(err) })
    })
  }
}

function toBuffer (chunk: unknown): Buffer {
  if (Buffer.isBuffer(chunk)) return chunk
  if (chunk instanceof Uint8Array) return Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength)
  if (typeof chunk === 'string') return Buffer.from(chunk)
  throw new InvalidArgumentError('addFilesFromTarball: the stream must yield Buffers')
}

async function collect (bytes: AsyncIterable<Buffer>): Promise<Buffer> {
  const chunks: Buffer[] = []
  for await (const chunk of bytes) chunks.push(chunk)
  return Buffer.concat(chunks)
}
