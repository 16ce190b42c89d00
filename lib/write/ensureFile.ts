import type { StoreContext } from '../context.js'
import { IntegrityError, InvalidArgumentError, NotAFileError } from '../errors.js'
import { toDigestHex } from '../digest/sri.js'
import { contentPathFor, storedMode } from '../layout/contentPath.js'
import type { EnsureFileOptions, EnsureFileResult } from '../types.js'
import { probeBytes, probeContent, type ContentProbe } from '../content/probe.js'
import { unlinkQuietly } from '../util/fs.js'
import { sha512Hex } from '../util/hash.js'
import { reach } from '../util/hooks.js'
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
  if (!isStored(probeBytes(filePath, data), filePath) || !(await claim(ctx, filePath, digest))) {
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
  let stored
  try {
    stored = isStored(await probeContent(filePath, temp.digest, temp.size), filePath)
  } catch (err) {
    unlinkQuietly(temp.path)
    throw err
  }
  if (stored && await claim(ctx, filePath, temp.digest)) {
    unlinkQuietly(temp.path)
  } else {
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
 * The writer's reading of a probe: only good content is kept as it is. Anything else, unreadable included, is
 * replaced by the rename; but a directory in the way is an error the user must clear.
 */
function isStored (probe: ContentProbe, filePath: string): boolean {
  if (probe.state === 'not-a-file') throw new NotAFileError(filePath)
  return probe.state === 'good'
}
