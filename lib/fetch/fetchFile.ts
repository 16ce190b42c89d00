import crypto from 'node:crypto'
import fs from 'node:fs'
import path from 'node:path'
import type { StoreContext } from '../context.js'
import { toDigestHex } from '../digest/sri.js'
import { FetchError, IntegrityError, InvalidArgumentError } from '../errors.js'
import { contentPathFor, storedMode } from '../layout/contentPath.js'
import { withKeyLock, type WaitOptions } from '../lock/keyLock.js'
import { probeContent } from '../content/probe.js'
import {
  closeAsync, createReadStream, errorCode, fsyncAsync, openAsync, unlinkQuietly, writeAllAsync,
} from '../util/fs.js'
import { reach } from '../util/hooks.js'
import { claimExisting } from '../write/claimExisting.js'
import { finalize } from '../write/finalize.js'
import { claimPartial, parkPartial } from './ownPartial.js'

/** Progress of a download, reported after each chunk is on disk. */
export interface FetchProgress {
  /** Bytes of the file on disk so far (resumed bytes included). */
  received: number
  /** The whole file's size when the server said, else undefined. */
  total: number | undefined
  /** Bytes reused from an earlier, interrupted download. */
  resumedFrom: number
}

/** Options of {@link fetchFile}. Give `digest` (hex or SRI) or `integrity` (SRI). */
export interface FetchFileOptions extends WaitOptions {
  digest?: string
  integrity?: string
  /** Mode of the stored file (execute bits pick the `-exec` path); default 0o644. */
  mode?: number
  onProgress?: (progress: FetchProgress) => void
  /** Abort when no byte arrives for this long (default 30 s): `ERR_CAS_FETCH_TIMEOUT`. */
  stallTimeoutMs?: number
  /**
   * The file's size in bytes, when the caller knows it (a package index, a manifest). A server that announces
   * another size is refused before its body is read, one that sends more is cut off at the first byte past it
   * (`ERR_CAS_FETCH_SIZE`, nothing kept), and kept bytes of a partial that is already this long are checked
   * without a request.
   */
  size?: number
  /**
   * Refuse a file larger than this many bytes (`ERR_CAS_FETCH_SIZE`, nothing kept), for when the exact size is not
   * known. Without `size` or `maxBytes` a download is bounded by the disk alone: a server that sends without end
   * never stalls, so the stall timeout never stops it.
   */
  maxBytes?: number
}

/** Result of {@link fetchFile}. */
export interface FetchFileResult {
  digest: string
  filePath: string
  size: number
}

/**
 * Makes sure the content with the given digest is in the store, downloading it from `url` if it is not.
 *
 * Exactly one process downloads a digest at a time: the others wait on its lock, then find the file in the store.
 * The download goes to a file of its own in `<root>/partial/` (see `ownPartial.ts`: no two downloads ever write
 * one file, even when the lock file was removed under them). A download cut short by a dropped connection or a
 * stall parks its bytes as `partial/<digest>.partial`, and one killed mid-way leaves its own file; either is
 * resumed by the next download of the digest with a `Range: bytes=N-` request. A server that answers 206 appends;
 * one that answers 200 starts over. The kept bytes are re-hashed before resuming, and nothing is trusted until the
 * whole file hashes to the digest; a resumed file that does not (the bytes kept were from another version of the
 * URL's file) is downloaded once more from byte 0. Then it goes through the same finalize as `ensureFile` (fsync
 * when the store was opened with `fsync`, rename under the path lock). Lock order is always download lock then
 * path lock, never the reverse, so the two cannot deadlock.
 */
export async function fetchFile (ctx: StoreContext, url: string, options: FetchFileOptions): Promise<FetchFileResult> {
  const given = options.digest ?? options.integrity
  if (given === undefined) throw new InvalidArgumentError('fetchFile: pass the expected `digest` or `integrity`')
  const digest = toDigestHex(given)
  for (const field of ['size', 'maxBytes'] as const) {
    const value = options[field]
    if (value !== undefined && !(Number.isSafeInteger(value) && value >= 0)) {
      throw new InvalidArgumentError(`fetchFile: ${field} must be a whole number of bytes >= 0, got ${String(value)}`)
    }
  }
  if (options.size !== undefined && options.maxBytes !== undefined && options.size > options.maxBytes) {
    throw new InvalidArgumentError(`fetchFile: size (${options.size}) is over maxBytes (${options.maxBytes}): no download could pass both`)
  }
  const mode = options.mode ?? 0o644
  const filePath = contentPathFor(ctx.root, digest, mode)
  const inStore = await goodSize(filePath, digest)
  // Found in place: claimed like any dedupe hit (see claimExisting), so a prune cannot take it from the caller.
  if (inStore !== undefined && await claim(ctx, filePath, digest)) return { digest, filePath, size: inStore }
  const partialDir = path.join(ctx.root, 'partial')
  fs.mkdirSync(partialDir, { recursive: true })
  return await withKeyLock(path.join(partialDir, `${digest}.lock`), url, async () => {
    const done = await goodSize(filePath, digest)
    if (done !== undefined && await claim(ctx, filePath, digest)) return { digest, filePath, size: done }
    const partial = await claimPartial(ctx, partialDir, digest)
    let size: number
    try {
      size = await download(url, partial, digest, options, { fsync: ctx.fsync, mode: storedMode(mode) })
    } catch (err) {
      // What was received is kept for the next try (gone if wrong). A park that fails (a full disk) drops the file
      // instead: left under this call's name it would be skipped as a live writer's while this store is open. The
      // download's own error is the one thrown, whatever the park met.
      try {
        parkPartial(partial, partialDir, digest)
      } catch {
        unlinkQuietly(partial)
      }
      throw err
    }
    await finalize(ctx, partial, filePath, digest, size)
    return { digest, filePath, size }
  }, { ...options, closing: ctx.closing })
}

/** A hit: claim the content found in place (see `claimExisting`); false when it vanished meanwhile. */
async function claim (ctx: StoreContext, filePath: string, digest: string): Promise<boolean> {
  await reach(ctx.hooks, 'writer:deduped', filePath)
  return await claimExisting(ctx, filePath, digest)
}

/** The size of the file at `file` if it holds content hashing to `digest`, else undefined (download it). */
async function goodSize (file: string, digest: string): Promise<number | undefined> {
  const probe = await probeContent(file, digest)
  return probe.state === 'good' ? probe.size : undefined
}

/** The bytes kept were resumed from and the whole does not hash to the digest: worth one more try from byte 0. */
class ResumedWrong extends Error {}

/**
 * Downloads into `partial` (resuming it when possible) until it hashes to `digest`; returns its size. A resumed
 * download whose whole fails the hash is tried once more from byte 0: the bytes kept may be an older version of
 * the URL's file, and the server may well serve the right one now.
 */
async function download (
  url: string, partial: string, digest: string, options: FetchFileOptions, file: FileOptions,
): Promise<number> {
  try {
    return await downloadOnce(url, partial, digest, options, file)
  } catch (err) {
    if (!(err instanceof ResumedWrong)) throw err
    return await downloadOnce(url, partial, digest, options, file) // the wrong bytes are gone: from byte 0
  }
}

/** What the finished partial must be before its rename: synced (the store's `fsync`), and given its stored mode. */
interface FileOptions {
  fsync: boolean
  mode: number
}

/**
 * One try at the download, through one descriptor on `partial` for the whole call: the kept bytes are hashed and
 * the new ones written through it, and the finished file is synced and given its mode through it. So what was
 * hashed is what is on disk, even if the name is taken away meanwhile (a user, a cleaner that took the writer for
 * dead because its owner record was removed): then the rename into the store fails (`ERR_CAS_TEMP_LOST`), and no
 * other bytes are ever stored under the digest. The partial was created 0o644 (and may come from a caller with
 * another mode): it gets the stored mode, as ensureFile's temp files have, so `-exec` content is executable.
 */
async function downloadOnce (
  url: string, partial: string, digest: string, options: FetchFileOptions, file: FileOptions,
): Promise<number> {
  const fd = await openAsync(partial, fs.constants.O_RDWR | fs.constants.O_CREAT, 0o644)
  try {
    return await downloadInto(fd, url, digest, options, file, partial)
  } finally {
    await closeAsync(fd)
  }
}

async function downloadInto (
  fd: number, url: string, digest: string, options: FetchFileOptions, file: FileOptions, partial: string,
): Promise<number> {
  const limit = Math.min(options.size ?? Infinity, options.maxBytes ?? Infinity)
  let resumeFrom = fs.fstatSync(fd).size
  // Kept bytes past the file's size are another file's: start over (the truncate below, with no Range asked).
  if (resumeFrom > limit) resumeFrom = 0
  const hash = crypto.createHash('sha512')
  if (resumeFrom > 0) {
    const kept = createReadStream('', { fd, start: 0, end: resumeFrom - 1, autoClose: false })
    for await (const chunk of kept) hash.update(chunk as Buffer)
  }
  const finish = async (): Promise<void> => {
    // As ensureFile's temp files: on disk before the rename makes them the content.
    if (file.fsync) await fsyncAsync(fd)
    fs.fchmodSync(fd, file.mode)
  }
  if (resumeFrom > 0 && resumeFrom === options.size) {
    // As long as the file: whole already, or wrong (then from byte 0). No request can tell more than the hash.
    if (hash.copy().digest('hex') === digest) {
      await finish()
      return resumeFrom
    }
    resumeFrom = 0
  }
  /** The server's file is not the one wanted: what it sent is dropped, and the error says so. */
  const wrongSize = (detail: string, status: number): FetchError => {
    fs.rmSync(partial, { force: true })
    return new FetchError('ERR_CAS_FETCH_SIZE', url, detail, status, undefined,
      'Nothing of it was kept; check the URL and the size expected of it.')
  }
  // What the partial holds when a download fails: the error says whether there is anything to resume.
  const kept = (status?: number): string => resumeAdvice(fs.fstatSync(fd).size, status)
  const stall = new AbortController()
  const stallMs = options.stallTimeoutMs ?? 30_000
  let timer = setTimeout(() => stall.abort(), stallMs)
  const kick = (): void => {
    clearTimeout(timer)
    timer = setTimeout(() => stall.abort(), stallMs)
  }
  try {
    let response = await request(url, resumeFrom, stall.signal)
    if (resumeFrom > 0 && response.status === 416) {
      // Nothing left to send from there: the partial may be whole already, else it is wrong and we start over.
      await response.body?.cancel()
      if (hash.copy().digest('hex') === digest) {
        await finish() // whole already, but written by a download that may not have synced it
        return resumeFrom
      }
      response = await request(url, 0, stall.signal)
      resumeFrom = -1
    }
    const appending = resumeFrom > 0 && response.status === 206 && rangeStart(response) === resumeFrom
    if (!appending && !response.ok) {
      await response.body?.cancel()
      throw new FetchError('ERR_CAS_FETCH_STATUS', url, `HTTP ${response.status} ${response.statusText}`, response.status, undefined, kept(response.status))
    }
    if (!appending && response.status === 206) {
      await response.body?.cancel()
      throw new FetchError('ERR_CAS_FETCH_STATUS', url, 'a partial answer (206) to a request for the whole file', 206, undefined, kept(206))
    }
    const startAt = appending ? resumeFrom : 0
    const fileHash = appending ? hash : crypto.createHash('sha512')
    const total = totalSize(response, startAt)
    // A size announced for an encoded body (a server that gzips though asked not to; fetch inflates it) is not
    // the file's: only the bytes as they arrive are counted then, below.
    const announced = encoded(response) ? undefined : total
    if (announced !== undefined && (announced > limit || (options.size !== undefined && announced !== options.size))) {
      await response.body?.cancel()
      throw wrongSize(`the server's file is ${announced} bytes; ` +
        (options.size !== undefined ? `${options.size} were expected` : `at most ${limit} are accepted`), response.status)
    }
    if (!appending) fs.ftruncateSync(fd, 0)
    let received = startAt
    for await (const chunk of response.body ?? []) {
      kick()
      const bytes = chunk as Uint8Array
      // Checked before the write: not one byte past the limit reaches the disk.
      if (received + bytes.length > limit) throw wrongSize(`the server sent more than the ${limit} bytes expected`, response.status)
      fileHash.update(bytes)
      await writeAllAsync(fd, bytes, received)
      received += bytes.length
      options.onProgress?.({ received, total, resumedFrom: startAt })
    }
    await finish()
    const actual = fileHash.digest('hex')
    if (actual !== digest) {
      fs.rmSync(partial, { force: true })
      if (appending) throw new ResumedWrong()
      throw new IntegrityError(digest, actual, `download from ${url}`)
    }
    return received
  } catch (err) {
    if (stall.signal.aborted) throw new FetchError('ERR_CAS_FETCH_TIMEOUT', url, `no data for ${stallMs} ms`, undefined, err, kept())
    if (err instanceof FetchError || err instanceof IntegrityError || err instanceof ResumedWrong) throw err
    // A local fs error (it names a syscall) is not a network failure.
    if (errorCode(err) !== undefined && (err as NodeJS.ErrnoException).syscall !== undefined) throw err
    throw new FetchError('ERR_CAS_FETCH_NETWORK', url, (err as Error).cause instanceof Error ? ((err as Error).cause as Error).message : (err as Error).message, undefined, err, kept())
  } finally {
    clearTimeout(timer)
  }
}

/** What a failed download's error says to do: resume what is kept, or (nothing kept) check the URL or retry. */
function resumeAdvice (keptBytes: number, status: number | undefined): string {
  if (keptBytes > 0) return `The ${keptBytes} bytes downloaded so far are kept; retry to resume from there.`
  return status === 404 || status === 410
    ? 'Nothing was downloaded: check the URL (the server has no such file).'
    : 'Nothing was downloaded; retry.'
}

async function request (url: string, from: number, signal: AbortSignal): Promise<Response> {
  const headers: Record<string, string> = { 'accept-encoding': 'identity' }
  if (from > 0) headers.range = `bytes=${from}-`
  return await fetch(url, { headers, signal })
}

function rangeStart (response: Response): number | undefined {
  const match = /^bytes (\d+)-/.exec(response.headers.get('content-range') ?? '')
  return match === null ? undefined : Number(match[1])
}

/** Whether the body is sent in an encoding (gzip…) rather than as the file's own bytes. */
function encoded (response: Response): boolean {
  const encoding = response.headers.get('content-encoding')
  return encoding !== null && encoding.trim().toLowerCase() !== 'identity'
}

function totalSize (response: Response, startAt: number): number | undefined {
  const whole = /\/(\d+)$/.exec(response.headers.get('content-range') ?? '')
  if (whole !== null) return Number(whole[1])
  const length = response.headers.get('content-length')
  return length === null ? undefined : startAt + Number(length)
}
