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
      fs.closeSync(fd)
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
  await closeAsync(fd)
  return temp
}

/**
 * Streams `source` into a fresh temp file, hashing on the way. Chunks are pulled one at a time and written
 * before the next is read, so memory stays at one chunk whatever the size. On any failure the temp file is
 * removed before the error propagates.
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
  try {
    for await (const chunk of source) {
      const bytes = toBytes(chunk)
      hash.update(bytes)
      size += bytes.length
      try {
        await writeAllAsync(fd, bytes)
      } catch (err) {
        throw new FileAccessError(temp, err as NodeJS.ErrnoException) // ENOSPC, EDQUOT, EIO…
      }
    }
    if (ctx.fsync) await fsyncAsync(fd)
  } catch (err) {
    await closeAsync(fd).catch(() => {})
    unlinkQuietly(temp)
    throw err
  }
  await closeAsync(fd)
  return { path: temp, digest: hash.digest('hex'), size }
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
