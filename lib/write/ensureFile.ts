import fs from 'node:fs'
import type { StoreContext } from '../context.js'
import { FileAccessError, IntegrityError, InvalidArgumentError, NotAFileError } from '../errors.js'
import { toDigestHex } from '../digest/sri.js'
import { contentPathFor, storedMode } from '../layout/contentPath.js'
import type { EnsureFileOptions, EnsureFileResult } from '../types.js'
import { statOrUndefined, unlinkQuietly } from '../util/fs.js'
import { sha512Hex } from '../util/hash.js'
import { reach } from '../util/hooks.js'
import { fileState } from '../verify/fileState.js'
import { claimExisting } from './claimExisting.js'
import { finalize } from './finalize.js'
import { writeBufferToTemp, writeStreamToTemp } from './writeTemp.js'

/**
 * Puts `content` in the store and returns where it is. The writer of the store.
 *
 * 1. Hash (a buffer up front; a stream while it is written to its temp file).
 * 2. If the content path already holds exactly these bytes, stop: nothing is rewritten. This check needs no lock,
 *    because a good file is only ever replaced by another good file (writers) or not at all (the verifier removes
 *    only files it proved wrong under the lock). The one remover of good files is `cas prune` (unreferenced,
 *    old content), so a hit is claimed under the path lock first (`claimExisting`), which keeps prune off it.
 * 3. Otherwise write a temp file that belongs to this call alone, then `finalize` renames it into place under the
 *    path lock. A reader therefore sees either no file or a complete one at the content path, even if this
 *    process is killed mid-write: a crash leaves only a temp file behind.
 */
export async function ensureFile (
  ctx: StoreContext, content: Buffer | AsyncIterable<unknown>, options: EnsureFileOptions,
): Promise<EnsureFileResult> {
  if (options === null || typeof options !== 'object') {
    throw new InvalidArgumentError('ensureFile: pass options with the file\'s mode, e.g. ensureFile(content, { mode: 0o644 })')
  }
  const { mode } = options
  if (!Number.isInteger(mode) || mode < 0) {
    throw new InvalidArgumentError(`ensureFile: mode must be a non-negative integer, got ${String(mode)}`)
  }
  const expected = options.digest === undefined ? undefined : toDigestHex(options.digest)
  if (Buffer.isBuffer(content)) return await ensureBuffer(ctx, content, mode, expected)
  if (content == null || typeof (content as AsyncIterable<unknown>)[Symbol.asyncIterator] !== 'function') {
    throw new InvalidArgumentError('ensureFile: content must be a Buffer or a readable stream')
  }
  return await ensureStream(ctx, content, mode, expected)
}

async function ensureBuffer (
  ctx: StoreContext, data: Buffer, mode: number, expected: string | undefined,
): Promise<EnsureFileResult> {
  const digest = sha512Hex(data)
  if (expected !== undefined && digest !== expected) throw new IntegrityError(expected, digest)
  const filePath = contentPathFor(ctx.root, digest, mode)
  if (!alreadyHolds(filePath, data) || !(await claim(ctx, filePath, digest))) {
    const temp = await writeBufferToTemp(ctx, data, storedMode(mode))
    await reach(ctx.hooks, 'writer:tempWritten', filePath)
    await finalize(ctx, temp, filePath, digest, data.length)
  }
  return { digest, filePath, size: data.length, checkedAt: Date.now() }
}

async function ensureStream (
  ctx: StoreContext, source: AsyncIterable<unknown>, mode: number, expected: string | undefined,
): Promise<EnsureFileResult> {
  const temp = await writeStreamToTemp(ctx, source, storedMode(mode))
  if (expected !== undefined && temp.digest !== expected) {
    unlinkQuietly(temp.path)
    throw new IntegrityError(expected, temp.digest)
  }
  const filePath = contentPathFor(ctx.root, temp.digest, mode)
  let state: Awaited<ReturnType<typeof fileState>>
  try {
    state = await fileState(filePath, temp.digest, temp.size)
  } catch {
    state = 'wrong' // unreadable: replace it
  }
  if (state === 'good' && await claim(ctx, filePath, temp.digest)) {
    unlinkQuietly(temp.path)
  } else {
    if (state === 'not-a-file') {
      unlinkQuietly(temp.path)
      throw new NotAFileError(filePath)
    }
    await reach(ctx.hooks, 'writer:tempWritten', filePath)
    await finalize(ctx, temp.path, filePath, temp.digest, temp.size)
  }
  return { digest: temp.digest, filePath, size: temp.size, checkedAt: Date.now() }
}

/** A dedupe hit: claim the content found in place (see `claimExisting`); false when it vanished meanwhile. */
async function claim (ctx: StoreContext, filePath: string, digest: string): Promise<boolean> {
  await reach(ctx.hooks, 'writer:deduped', filePath)
  return await claimExisting(ctx, filePath, digest)
}

/**
 * True when `filePath` is a regular file holding exactly `data`. Compares bytes rather than hashing them: the
 * digest of `data` is already known, and memcmp is cheaper than sha512. Unreadable counts as "no" (it gets
 * replaced); a directory in the way is an error the user must clear.
 */
function alreadyHolds (filePath: string, data: Buffer): boolean {
  let stat
  try {
    stat = statOrUndefined(filePath)
  } catch (err) {
    throw new FileAccessError(filePath, err as NodeJS.ErrnoException) // EACCES on files/<2 hex>/
  }
  if (stat === undefined) return false
  if (!stat.isFile()) throw new NotAFileError(filePath)
  if (stat.size !== data.length) return false
  try {
    return fs.readFileSync(filePath).equals(data)
  } catch {
    return false
  }
}
