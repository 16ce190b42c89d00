import fs from 'node:fs'
import { promisify } from 'node:util'
import gfs from 'graceful-fs'
import { SYNC_IO_LIMIT } from '../util/hash.js'
import type { ImportMethod } from './importMethod.js'

const copyFileAsync = promisify(gfs.copyFile) as (src: string, dest: string, mode?: number) => Promise<void>
const chmodAsync = promisify(gfs.chmod) as (path: string, mode: number) => Promise<void>

const CLONE_FLAGS = fs.constants.COPYFILE_FICLONE_FORCE | fs.constants.COPYFILE_EXCL

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
 * Modes: a hard link shares the store file's inode. A clone or a copy gets `chmod` to `mode` when given: the
 * caller passes it unless the store file is known to have that mode already, because libuv's copyFile carries the
 * source's mode (an fchmod before FICLONE or the data copy) while a store restored from a cache or copied without
 * permissions may have lost it, and a raw FICLONE (other runtimes, reflink libraries) copies data only.
 */
export function materializeFileSync (method: ImportMethod, src: string, dest: string, mode: number | undefined): void {
  if (method === 'hardlink') {
    fs.linkSync(src, dest)
    return
  }
  // EXCL: the folder is ours and fresh, and it spares libuv's fstat + ftruncate of an existing destination.
  fs.copyFileSync(src, dest, method === 'clone' ? CLONE_FLAGS : fs.constants.COPYFILE_EXCL)
  if (mode !== undefined) fs.chmodSync(dest, mode)
}

/** The same through graceful-fs: waits for a free descriptor on EMFILE, and leaves the event loop free meanwhile. */
export async function materializeFileAsync (
  method: ImportMethod, src: string, dest: string, mode: number | undefined,
): Promise<void> {
  if (method === 'hardlink') {
    fs.linkSync(src, dest)
    return
  }
  await copyFileAsync(src, dest, method === 'clone' ? CLONE_FLAGS : fs.constants.COPYFILE_EXCL)
  if (mode !== undefined) await chmodAsync(dest, mode)
}
