import fs from 'node:fs'
import type { StoreContext } from '../context.js'
import { stripeOfDigest } from '../layout/contentPath.js'
import { errorCode, statOrUndefined } from '../util/fs.js'

/**
 * Claims content that a writer found already in the store: marks it as just used, under the path lock, and says
 * whether it is still there. False means it is gone, and the writer must write it after all.
 *
 * Why: `cas prune` removes content that no package index references and whose ctime is older than its grace
 * period. A writer that finds its content already present returns at once, and writes the index that references
 * it only later. Without a claim, a prune in between would remove the file the writer was just told is in the
 * store. The claim is a chmod to the file's own mode: it changes nothing but the inode's ctime (the verifier's
 * fast path reads the mtime, which stays). Prune re-checks the ctime under this same lock, so either prune removed
 * the file first (we see it gone) or it sees a fresh ctime and keeps the file.
 */
export async function claimExisting (ctx: StoreContext, filePath: string, digest: string): Promise<boolean> {
  if (ctx.handOff !== undefined) { // a store thread: the calling thread claims it (`LockedStep` in `context.ts`)
    ctx.handOff.push({ kind: 'claim', target: filePath, digest })
    return true
  }
  const stripe = stripeOfDigest(digest)
  const release = ctx.lock.tryAcquireSync(filePath, stripe) ?? await ctx.lock.acquire(filePath, stripe)
  try {
    return touchCtime(filePath)
  } finally {
    release()
  }
}

function touchCtime (filePath: string): boolean {
  // The mode is read under the lock, so the chmod can only ever restate what is there.
  const stat = statOrUndefined(filePath)
  if (stat === undefined) return false
  try {
    fs.chmodSync(filePath, stat.mode & 0o7777)
    return true
  } catch (err) {
    // EPERM: a file another user put in a shared store; it stays, unclaimed (prune's grace still covers it).
    return errorCode(err) !== 'ENOENT'
  }
}
