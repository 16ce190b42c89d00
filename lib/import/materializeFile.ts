import fs from 'node:fs'
import { promisify } from 'node:util'
import gfs from 'graceful-fs'
import { storedMode } from '../layout/contentPath.js'
import { SYNC_IO_LIMIT } from '../util/hash.js'
import type { ImportMethod } from './importMethod.js'

const copyFileAsync = promisify(gfs.copyFile) as (src: string, dest: string, mode?: number) => Promise<void>
const chmodAsync = promisify(gfs.chmod) as (path: string, mode: number) => Promise<void>

/**
 * True when materializing this file should go through the thread pool (graceful-fs) rather than a synchronous
 * call: a large copy or clone would otherwise block the event loop for its whole length. Hard links move no data.
 */
export function isLargeCopy (method: ImportMethod, size: number): boolean {
  return method !== 'hardlink' && size > SYNC_IO_LIMIT
}

/**
 * Puts one store file at `dest` (a path in a folder this import made, so nothing is ever there yet) by `method`.
 * Synchronous: for the small files that make up most packages a syscall costs less than a promise
 * (shared performance notes). Throws the fs error as it is; the caller decides what it means.
 *
 * Modes: a hard link shares the store file's inode, which has the mode its content path promises. A clone
 * (FICLONE copies data only) or a copy gets the index's mode explicitly, `0o755` or `0o644` as the store writes
 * them: libuv's copyFile happens to carry the source's mode, but a store restored from a cache or copied without
 * permissions may not have it, and the index is what says a file is executable.
 */
export function materializeFileSync (method: ImportMethod, src: string, dest: string, mode: number): void {
  switch (method) {
    case 'hardlink':
      fs.linkSync(src, dest)
      return
    case 'clone':
      fs.copyFileSync(src, dest, fs.constants.COPYFILE_FICLONE_FORCE | fs.constants.COPYFILE_EXCL)
      fs.chmodSync(dest, storedMode(mode))
      return
    case 'copy':
      // EXCL: the folder is ours and fresh, and it spares libuv's fstat + ftruncate of an existing destination.
      fs.copyFileSync(src, dest, fs.constants.COPYFILE_EXCL)
      fs.chmodSync(dest, storedMode(mode))
  }
}

/** The same through graceful-fs: waits for a free descriptor on EMFILE, and leaves the event loop free meanwhile. */
export async function materializeFileAsync (method: ImportMethod, src: string, dest: string, mode: number): Promise<void> {
  if (method === 'hardlink') {
    fs.linkSync(src, dest)
    return
  }
  const flags = fs.constants.COPYFILE_EXCL | (method === 'clone' ? fs.constants.COPYFILE_FICLONE_FORCE : 0)
  await copyFileAsync(src, dest, flags)
  await chmodAsync(dest, storedMode(mode))
}
