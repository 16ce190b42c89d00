import fs from 'node:fs'
import { promisify } from 'node:util'
import gfs from 'graceful-fs'
import type { ClosingState } from './closing.js'

/*
 * Asynchronous fs calls go through graceful-fs: when the process runs out of descriptors (EMFILE/ENFILE) it queues
 * the open and retries once another descriptor is closed, instead of failing the install. The synchronous calls
 * used on the small-file hot path are plain `node:fs`; their callers fall back to these on EMFILE.
 */
// open, close and fsync look graceful-fs up at each call (as writeAllAsync does), so a test's spy on them is seen.
export async function openAsync (path: string, flags: string | number, mode?: number): Promise<number> {
  return await viaCallback<number>(done => { gfs.open(path, flags, mode, done) })
}
export async function closeAsync (fd: number): Promise<void> {
  await viaCallback(done => { gfs.close(fd, done) })
}
export async function fsyncAsync (fd: number): Promise<void> {
  await viaCallback(done => { gfs.fsync(fd, done) })
}

/** A callback-style call as a promise. */
async function viaCallback<T = void> (
  call: (done: (err: NodeJS.ErrnoException | null, value?: T) => void) => void,
): Promise<T> {
  return await new Promise<T>((resolve, reject) => {
    call((err, value) => { if (err) reject(err); else resolve(value as T) })
  })
}
export const unlinkAsync = promisify(gfs.unlink) as (path: string) => Promise<void>
export const readFileAsync = promisify(gfs.readFile) as (path: string) => Promise<Buffer>
/** A folder's entries, through graceful-fs (which waits for a free descriptor on EMFILE). */
type ReaddirWithTypes = (dir: string, options: { withFileTypes: true }) => Promise<fs.Dirent[]>
const readdirWithTypes = promisify(gfs.readdir) as ReaddirWithTypes
export const readdirEntriesAsync = async (dir: string): Promise<fs.Dirent[]> =>
  await readdirWithTypes(dir, { withFileTypes: true })
export const createReadStream = gfs.createReadStream as typeof fs.createReadStream

/** Writes all of `data` at the fd's position, or at `position` when given (looping over short writes). */
export async function writeAllAsync (fd: number, data: Uint8Array, position?: number): Promise<void> {
  let offset = 0
  while (offset < data.length) {
    const at = position === undefined ? null : position + offset
    offset += await new Promise<number>((resolve, reject) => {
      gfs.write(fd, data, offset, data.length - offset, at, (err, written) => err ? reject(err) : resolve(written))
    })
  }
}

/** Writes all of `data` synchronously (looping over short writes). */
export function writeAllSync (fd: number, data: Uint8Array): void {
  let offset = 0
  while (offset < data.length) offset += fs.writeSync(fd, data, offset, data.length - offset)
}

/** The errno code of an error thrown by fs, or undefined. */
export function errorCode (err: unknown): string | undefined {
  return (err as NodeJS.ErrnoException | undefined)?.code
}

/** True for the "too many open files" family, where waiting and retrying is the cure. */
export function isFdExhaustion (err: unknown): boolean {
  const code = errorCode(err)
  return code === 'EMFILE' || code === 'ENFILE'
}

/** `fs.statSync` that returns undefined for a missing path instead of throwing. */
export function statOrUndefined (path: string): fs.Stats | undefined {
  try {
    return fs.statSync(path, { throwIfNoEntry: false })
  } catch (err) {
    // ENOTDIR: a parent path component is a file, so nothing can stand at this path.
    if (errorCode(err) === 'ENOTDIR') return undefined
    throw err
  }
}

/** Removes a file, ignoring "already gone". Used for temp files on every failure path. */
export function unlinkQuietly (path: string): void {
  try {
    fs.unlinkSync(path)
  } catch {}
}

/** fsyncs a directory so a rename inside it survives power loss. */
export function fsyncDirSync (dir: string): void {
  fsyncPathSync(dir)
}

/** EACCES or EPERM: this process may not do that to that path. */
export function isPermissionError (err: unknown): boolean {
  const code = errorCode(err)
  return code === 'EACCES' || code === 'EPERM'
}

/**
 * fsyncs a file or a directory given by its path, opened read-only, or write-only (without truncating) for a file
 * its owner may write but not read; false when neither is allowed (the caller decides what that means).
 */
export async function fsyncPathAsync (file: string): Promise<boolean> {
  let fd: number | undefined
  for (const flags of [fs.constants.O_RDONLY, fs.constants.O_WRONLY]) {
    try {
      fd = await openAsync(file, flags)
      break
    } catch (err) {
      // EISDIR: a folder cannot be opened for writing; it was already refused for reading.
      if (!isPermissionError(err) && errorCode(err) !== 'EISDIR') throw err
    }
  }
  if (fd === undefined) return false
  try {
    await fsyncAsync(fd)
  } finally {
    await closeAsync(fd)
  }
  return true
}

/** fsyncs a file or a directory given by its path (opened read-only for it, which fsync allows). */
export function fsyncPathSync (file: string): void {
  const fd = fs.openSync(file, 'r')
  try {
    fs.fsyncSync(fd)
  } finally {
    fs.closeSync(fd)
  }
}

/**
 * How long a call waits for a free descriptor before it fails with the EMFILE it kept meeting: graceful-fs's own
 * bound for the calls it wraps. A wait that never ends would turn the rare case where every descriptor is held by
 * work that itself waits for one (each large file's source open while its temp file cannot be opened) into a hang.
 */
export const DESCRIPTOR_WAIT_MS = 60_000

/** Options of {@link whenDescriptorsFree}. */
export interface DescriptorWaitOptions {
  /** Give up (throwing the last EMFILE) after this long; default {@link DESCRIPTOR_WAIT_MS}. */
  giveUpAfterMs?: number
  /**
   * The caller has just made the call itself and met EMFILE (its fast path, with no promise), so the first try
   * here comes after a wait, not at once.
   */
  failedOnce?: boolean
  /** The store's closing state: once it has started, the wait gives up at its next try, so `close()` is not held. */
  closing?: ClosingState
}

/**
 * Runs a synchronous call that needs descriptors (a listing, an open, a write, a recursive removal) and, out of
 * them (EMFILE, ENFILE), waits and tries it again, as graceful-fs does for the calls it wraps: a process at its
 * limit gets descriptors back as its other work finishes. The call must be safe to run again. Gives up, throwing
 * the last EMFILE, after `giveUpAfterMs` or once the store is closing.
 */
export async function whenDescriptorsFree<T> (call: () => T, options: DescriptorWaitOptions = {}): Promise<T> {
  const { giveUpAfterMs = DESCRIPTOR_WAIT_MS, failedOnce = false, closing } = options
  const started = Date.now()
  for (let attempt = 0; ; attempt++) {
    if (attempt > 0 || failedOnce) await new Promise(resolve => setTimeout(resolve, Math.min(100, 2 ** attempt)))
    try {
      return call()
    } catch (err) {
      if (!isFdExhaustion(err) || Date.now() - started >= giveUpAfterMs || closing?.started === true) throw err
    }
  }
}
