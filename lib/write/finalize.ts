import fs from 'node:fs'
import path from 'node:path'
import type { StoreContext } from '../context.js'
import { FileAccessError, NotAFileError, TempFileLostError } from '../errors.js'
import { stripeOfDigest } from '../layout/contentPath.js'
import { errorCode, fsyncDirSync, unlinkQuietly } from '../util/fs.js'
import { reach } from '../util/hooks.js'
import { fileState } from '../verify/fileState.js'

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
  const stripe = stripeOfDigest(digest)
  // Uncontended (the common case): lock, rename, unlock, all synchronous, no promise. A test that parks the
  // writer inside the lock needs the async path.
  let quick: { value: boolean } | undefined
  try {
    quick = ctx.hooks?.['writer:locked'] === undefined
      ? ctx.lock.tryWithLockSync(target, stripe, () => tryRename(temp, target))
      : undefined
  } catch (err) {
    unlinkQuietly(temp) // the lock itself failed (ERR_CAS_LOCK_FILE): the temp file is nobody's now
    throw err
  }
  if (quick?.value !== true) {
    await ctx.lock.withLock(target, stripe, async () => {
      await reach(ctx.hooks, 'writer:locked', target)
      try {
        renameCreatingDir(temp, target)
      } catch (err) {
        const tempLost = errorCode(err) === 'ENOENT' && !fs.existsSync(temp)
        const state = await fileState(target, digest, size).catch(() => 'unreadable' as const)
        unlinkQuietly(temp)
        if (state === 'good') return
        if (tempLost) throw new TempFileLostError(temp, target)
        if (state === 'not-a-file') throw new NotAFileError(target)
        throw new FileAccessError(target, err as NodeJS.ErrnoException)
      }
    }).catch((err: unknown) => {
      // The lock could not be had (ERR_CAS_LOCK_TIMEOUT, ERR_CAS_LOCK_FILE) or the rename failed: either way the
      // temp file is nobody's now.
      unlinkQuietly(temp)
      throw err
    })
  }
  if (ctx.fsync) fsyncDirSync(path.dirname(target))
}

/** The quick path's rename: any failure is left for the full path to retry and explain under the lock. */
function tryRename (temp: string, target: string): boolean {
  try {
    renameCreatingDir(temp, target)
    return true
  } catch {
    return false
  }
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
