import crypto from 'node:crypto'
import fs from 'node:fs'
import type { StoreContext } from '../context.js'
import { FileAccessError, InvalidArgumentError } from '../errors.js'
import {
  closeAsync, errorCode, fsyncAsync, isFdExhaustion, openAsync, unlinkQuietly, writeAllAsync, writeAllSync,
} from '../util/fs.js'
import { SYNC_IO_LIMIT } from '../util/hash.js'
import { tempPathFor } from '../layout/tempName.js'

/** A temp file this call owns, with what was written to it. */
export interface TempFile {
  path: string
  digest: string
  size: number
}

/**
 * Writes `data` to a fresh temp file (O_EXCL). Small buffers are written with synchronous calls (the fast path
 * for the thousands of small files of an install); large ones, and any write that meets EMFILE, go through
 * graceful-fs, which waits for a free descriptor instead of failing.
 */
export async function writeBufferToTemp (ctx: StoreContext, data: Buffer, mode: number): Promise<string> {
  if (ctx.tempOwner !== undefined && !ctx.tempOwner.held) await ctx.tempOwner.hold()
  const temp = tempPathFor(ctx.tmpDir)
  if (data.length <= SYNC_IO_LIMIT) {
    let fd: number | undefined
    try {
      fd = openTempSync(ctx, temp, mode)
    } catch (err) {
      if (!isFdExhaustion(err)) throw new FileAccessError(temp, err as NodeJS.ErrnoException)
    }
    if (fd !== undefined) {
      try {
        writeAllSync(fd, data)
        if (ctx.fsync) fs.fsyncSync(fd)
      } catch (err) {
        fs.closeSync(fd)
        unlinkQuietly(temp)
        throw new FileAccessError(temp, err as NodeJS.ErrnoException)
      }
      try {
        fs.closeSync(fd) // NFS reports a deferred write error here (EIO, EDQUOT): the temp is then not whole
      } catch (err) {
        unlinkQuietly(temp)
        throw new FileAccessError(temp, err as NodeJS.ErrnoException)
      }
      return temp
    }
  }
  const fd = await openTempAsync(ctx, temp, mode)
  try {
    await writeAllAsync(fd, data)
    if (ctx.fsync) await fsyncAsync(fd)
  } catch (err) {
    await closeAsync(fd).catch(() => {})
    unlinkQuietly(temp)
    throw new FileAccessError(temp, err as NodeJS.ErrnoException)
  }
  await closeTemp(fd, temp)
  return temp
}

/**
 * How much of a stream is gathered before one write: fewer, larger writes, and hashing overlaps the write.
 * Measured (4 GiB tarball entry, tmpfs): one write per 16 KiB chunk took 50 s; 128 KiB batches 22-24 s, 1 MiB
 * batches 17.5 s; but with 1 MiB the add's peak RSS grew by 167-180 MiB on Node 24 (past the 128 MiB the tests
 * hold it to; 82 MiB with 256 KiB, 53-56 MiB with 128 KiB on Node 20 and 24 alike; the cause is not pinned down).
 */
export const STREAM_BATCH_BYTES = 128 * 1024

/**
 * Streams `source` into a fresh temp file, hashing on the way. Chunks are copied into a batch
 * ({@link STREAM_BATCH_BYTES}); a full batch is hashed and written while the next one fills (at most one write in
 * flight), so decompression and hashing on this thread overlap the write on the thread pool, and a 4 GiB entry
 * takes 32,768 writes rather than one per 16 KiB chunk. Memory stays at two batches whatever the size. Chunks
 * are copied, never kept: a source may reuse its buffer once the next chunk is asked for, and what is hashed must
 * be exactly what is written. On any failure the write in flight is waited for and the temp file is removed
 * before the error propagates.
 */
export async function writeStreamToTemp (
  ctx: StoreContext, source: AsyncIterable<unknown>, mode: number,
): Promise<TempFile> {
  if (ctx.tempOwner !== undefined && !ctx.tempOwner.held) await ctx.tempOwner.hold()
  const temp = tempPathFor(ctx.tmpDir)
  let fd: number
  try {
    fd = await openTempAsync(ctx, temp, mode)
  } catch (err) {
    // Nobody will read the source now: release it (a file stream holds a descriptor until destroyed).
    (source as { destroy?: () => void }).destroy?.()
    throw err
  }
  const hash = crypto.createHash('sha512')
  let size = 0
  let filling: Buffer | undefined
  let spare: Buffer | undefined
  let filled = 0
  let inFlight: Promise<void> | undefined
  const flush = async (): Promise<void> => {
    const batch = filling!.subarray(0, filled)
    hash.update(batch)
    if (inFlight !== undefined) await inFlight
    const written = writeAllAsync(fd, batch).catch(err => {
      throw new FileAccessError(temp, err as NodeJS.ErrnoException) // ENOSPC, EDQUOT, EIO…
    })
    // Handled here so a failure seen only at the next flush is not reported as unhandled meanwhile.
    written.catch(() => {})
    inFlight = written
    // The buffer just handed to the write is filled again only after that write has settled (awaited above).
    ;[filling, spare] = [spare, filling]
    filled = 0
  }
  try {
    for await (const chunk of source) {
      const bytes = toBytes(chunk)
      size += bytes.length
      for (let offset = 0; offset < bytes.length;) {
        filling ??= Buffer.allocUnsafe(STREAM_BATCH_BYTES)
        const n = Math.min(bytes.length - offset, STREAM_BATCH_BYTES - filled)
        filling.set(bytes.subarray(offset, offset + n), filled)
        filled += n
        offset += n
        if (filled === STREAM_BATCH_BYTES) await flush()
      }
    }
    if (filled > 0) await flush()
    if (inFlight !== undefined) await inFlight
    if (ctx.fsync) await fsyncAsync(fd)
  } catch (err) {
    // Never close a descriptor a write is still using (the number could be reused by the next open).
    await inFlight?.catch(() => {})
    await closeAsync(fd).catch(() => {})
    unlinkQuietly(temp)
    throw err
  }
  await closeTemp(fd, temp)
  return { path: temp, digest: hash.digest('hex'), size }
}

/**
 * Closes a temp file written in full. A failed close (NFS reports a deferred write error there: EIO, EDQUOT) means
 * its bytes may not all be there: the temp is removed and the failure is the writer's.
 */
async function closeTemp (fd: number, temp: string): Promise<void> {
  try {
    await closeAsync(fd)
  } catch (err) {
    unlinkQuietly(temp)
    throw new FileAccessError(temp, err as NodeJS.ErrnoException)
  }
}

function toBytes (chunk: unknown): Uint8Array {
  if (chunk instanceof Uint8Array) return chunk
  if (typeof chunk === 'string') return Buffer.from(chunk)
  throw new InvalidArgumentError(`ensureFile: a content stream must yield Buffers or strings, not ${typeof chunk}`)
}

function openTempSync (ctx: StoreContext, temp: string, mode: number): number {
  try {
    return fs.openSync(temp, 'wx', mode)
  } catch (err) {
    if (errorCode(err) !== 'ENOENT') throw err
    // The temp folder was removed (a user cleaning up): recreate it, it holds nothing anyone else needs.
    fs.mkdirSync(ctx.tmpDir, { recursive: true })
    return fs.openSync(temp, 'wx', mode)
  }
}

async function openTempAsync (ctx: StoreContext, temp: string, mode: number): Promise<number> {
  try {
    return await openAsync(temp, 'wx', mode)
  } catch (err) {
    if (errorCode(err) !== 'ENOENT') throw new FileAccessError(temp, err as NodeJS.ErrnoException)
    fs.mkdirSync(ctx.tmpDir, { recursive: true })
    return await openAsync(temp, 'wx', mode)
  }
}
