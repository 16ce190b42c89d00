import fs from 'node:fs'
import path from 'node:path'
import type { StoreContext } from '../context.js'
import { probeContent } from '../content/probe.js'
import { FileAccessError, NotAFileError, TempFileLostError } from '../errors.js'
import { stripeOfDigest } from '../layout/contentPath.js'
import { errorCode, fsyncDirSync, unlinkQuietly, whenDescriptorsFree } from '../util/fs.js'
import { reach } from '../util/hooks.js'

/**
 * Moves a finished temp file to its content path, under the path lock.
 *
 * The lock is what makes the verifier safe: a verifier that has proven a file wrong removes it while holding the
 * same lock, so it can never remove a good file this rename has just put in place. The lock covers only this
 * rename (and the failure check), never the write of the temp file, so writers of different content never wait
 * on each other's I/O.
 *
 * Race-tolerant: if the rename fails but a file with exactly this content already stands at the target (another
 * writer won), that is success and our temp file is dropped. Any other failure removes the temp file and throws.
 */
export async function finalize (
  ctx: StoreContext, temp: string, target: string, digest: string, size: number,
): Promise<void> {
  if (ctx.handOff !== undefined) { // a store thread: the calling thread renames it (`LockedStep` in `context.ts`)
    ctx.handOff.push({ kind: 'rename', temp, target, digest, size })
    return
  }
  const stripe = stripeOfDigest(digest)
  // Uncontended (the common case), the lock is taken synchronously and, with no pause point installed, the
  // rename below runs without a single await. Either way the critical section is the same.
  let release: () => void
  try {
    release = ctx.lock.tryAcquireSync(target, stripe) ?? await ctx.lock.acquire(target, stripe)
  } catch (err) {
    // The lock could not be had (ERR_CAS_LOCK_TIMEOUT, ERR_CAS_LOCK_FILE): the temp file is nobody's now.
    unlinkQuietly(temp)
    throw err
  }
  try {
    const paused = reach(ctx.hooks, 'writer:locked', target)
    if (paused !== undefined) await paused
    try {
      renameCreatingDir(temp, target)
    } catch (err) {
      const tempLost = errorCode(err) === 'ENOENT' && !fs.existsSync(temp)
      const { state } = await probeContent(target, digest, size)
      unlinkQuietly(temp)
      if (state === 'good') return
      if (tempLost) throw new TempFileLostError(temp, target)
      if (state === 'not-a-file') throw new NotAFileError(target)
      throw new FileAccessError(target, err as NodeJS.ErrnoException)
    }
  } finally {
    release()
  }
  // Out of descriptors, the folder's open for its fsync waits for one: the file is in place, and failing now would
  // report a write that happened as one that did not.
  if (ctx.fsync) await whenDescriptorsFree(() => { fsyncDirSync(path.dirname(target)) }, { closing: ctx.closing })
}

/** rename(2), creating `files/<2 hex>/` on first use (pnpm creates these folders lazily too). */
function renameCreatingDir (temp: string, target: string): void {
  try {
    fs.renameSync(temp, target)
  } catch (err) {
    if (errorCode(err) !== 'ENOENT' || !fs.existsSync(temp)) throw err
    fs.mkdirSync(path.dirname(target), { recursive: true })
    fs.renameSync(temp, target)
  }
}
