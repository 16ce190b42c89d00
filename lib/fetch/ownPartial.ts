import fs from 'node:fs'
import path from 'node:path'
import type { StoreContext } from '../context.js'
import { ownPartialName, TEMP_SUFFIX } from '../layout/tempName.js'
import { tempWriterAlive } from '../lock/tempOwner.js'
import { errorCode, statOrUndefined, unlinkQuietly, whenDescriptorsFree } from '../util/fs.js'

/*
 * Why a download writes a file of its own, and never the shared `<digest>.partial`:
 *
 * The digest's key lock keeps a second downloader out, but only while its lock file stays: a user who removes
 * `partial/<digest>.lock` mid-download lets a second downloader in. If both wrote one shared partial, each would
 * hash only the bytes it received while the file on disk held both writers' bytes, and the first to finish would
 * rename a file the other was still writing into the store, under a digest it does not hash to. So every download
 * writes a file named for it alone (`<digest>.<unique id>.cas-tmp`); nobody else opens it while its writer lives.
 *
 * Resuming still works across calls and processes: a download that fails (a dropped connection, a stall) closes
 * its file and parks it under the digest's stable name, `<digest>.partial`, and the next download of the digest
 * takes it with one rename (atomic: two claimants cannot both get it). A download killed mid-way cannot park its
 * file; its temp-owner record (`lock/tempOwner.ts`) is then free, and the next download adopts the file. A live
 * writer's file (one that lost its lock, as above) is never adopted: the two then download side by side, which
 * costs a second download and nothing else.
 */

/** Where a download of `digest` in `partialDir` parks its bytes when it fails: the stable name the next one takes. */
export function parkedPartial (partialDir: string, digest: string): string {
  return path.join(partialDir, `${digest}.partial`)
}

/**
 * This call's own partial file for `digest`, holding whatever an earlier download left to resume (parked, or the
 * file of a writer that died), or not created yet when there is nothing. Call it holding the digest's key lock.
 * Of several such files (parked and dead writers' alike) the largest is adopted and the others are removed: they
 * can only be older tries, and nobody else would ever take them.
 */
export async function claimPartial (ctx: StoreContext, partialDir: string, digest: string): Promise<string> {
  // The file's name carries this store's owner id: held first, so a cleaner sees the file as live work.
  if (ctx.tempOwner !== undefined && !ctx.tempOwner.held) await ctx.tempOwner.hold()
  const own = path.join(partialDir, ownPartialName(digest))
  const parked = path.basename(parkedPartial(partialDir, digest))
  // Parked bytes, or a download's own file whose writer is known to be gone: its owner record is there and free. A
  // file whose record is missing (removed by hand) is left alone, as its writer may live: the cleaners reclaim it.
  const leftBehind = (name: string): boolean => name === parked ||
    (name.startsWith(`${digest}.`) && name.endsWith(TEMP_SUFFIX) && tempWriterAlive(ctx.root, name) === false)
  let best: { file: string, size: number } | undefined
  // Out of descriptors (EMFILE), the listing waits for one rather than failing the download.
  for (const name of await whenDescriptorsFree(() => fs.readdirSync(partialDir), { closing: ctx.closing })) {
    if (!leftBehind(name)) continue
    const file = path.join(partialDir, name)
    const size = statOrUndefined(file)?.size
    if (size === undefined) continue
    if (best !== undefined && best.size >= size) {
      unlinkQuietly(file)
      continue
    }
    if (best !== undefined) unlinkQuietly(best.file)
    best = { file, size }
  }
  if (best !== undefined) moved(best.file, own)
  return own
}

/**
 * A failed download's own file, closed, parked for the next download of the digest (replacing an older parked
 * file: one left by a download that lost its lock, as above). Nothing happens when the file was never created or
 * has been removed (wrong bytes).
 */
export function parkPartial (own: string, partialDir: string, digest: string): void {
  moved(own, parkedPartial(partialDir, digest))
}

/** rename(2); false when `from` is not there (someone else took it, or it never existed). */
function moved (from: string, to: string): boolean {
  try {
    fs.renameSync(from, to)
    return true
  } catch (err) {
    if (errorCode(err) === 'ENOENT') return false
    throw err
  }
}
