import fs from 'node:fs'
import path from 'node:path'
import type { StoreContext } from '../context.js'
import { InvalidArgumentError } from '../errors.js'
import { withKeyLock, type WaitOptions } from '../lock/keyLock.js'
import {
  fsyncDirSync, fsyncPathAsync, fsyncPathSync, isPermissionError, readdirEntriesAsync, statOrUndefined,
  whenDescriptorsFree,
} from '../util/fs.js'
import { dirEntryPaths, isTempDirName, tempDirFor } from './dirLayout.js'

/** The file written last into a directory entry; its presence is what "complete" means (cargo's `.cargo-ok`). */
export const COMPLETE_MARKER = '.cas-complete'

/** Options of {@link ensureDir}. */
export type EnsureDirOptions = WaitOptions

/**
 * Returns the path of a complete directory entry for `key`, filling it with `fill` if no one has yet.
 *
 * Single flight across processes: a complete entry is returned without any lock; otherwise one caller takes the
 * key's lock, checks again (another process may have finished while it waited), and runs `fill` into a temp
 * folder that belongs to this call alone. The completion marker is written last and the folder renamed into
 * place, so the entry is never seen half-filled. A `fill` that throws leaves nothing at the final path; a killed
 * filler leaves only its temp folder, which the next filler (holding the lock, so no filler of that key is alive)
 * removes. The lock file (next to the entry) exists only while someone holds or waits for the key: its holder
 * removes it on release (see `withKeyLock`).
 */
export async function ensureDir (
  ctx: StoreContext, key: string, fill: (dir: string) => Promise<void> | void, options: EnsureDirOptions = {},
): Promise<string> {
  if (typeof key !== 'string' || key === '') throw new InvalidArgumentError('ensureDir: key must be a non-empty string')
  if (typeof fill !== 'function') throw new InvalidArgumentError('ensureDir: fill must be a function')
  const { dir, lockFile, name, parent } = dirEntryPaths(ctx.root, key)
  if (isComplete(dir)) return dir
  fs.mkdirSync(parent, { recursive: true })
  return await withKeyLock(lockFile, key, async () => {
    if (isComplete(dir)) return dir
    // Out of descriptors, these wait for one, as the key lock's own open did (the lock may have taken the last).
    const wait = { closing: ctx.closing }
    await whenDescriptorsFree(() => { removeLeftovers(parent, name, dir) }, wait)
    const temp = tempDirFor(parent, name)
    fs.mkdirSync(temp)
    try {
      await fill(temp)
      if (ctx.fsync) await syncTree(temp) // what `fill` wrote is on disk before the marker says it is complete
      const marker = path.join(temp, COMPLETE_MARKER)
      const completed = JSON.stringify({ key, completedAt: Date.now() })
      await whenDescriptorsFree(() => { fs.writeFileSync(marker, completed) }, wait)
      if (ctx.fsync) {
        await whenDescriptorsFree(() => { fsyncPathSync(marker) }, wait)
        await whenDescriptorsFree(() => { fsyncDirSync(temp) }, wait)
      }
      fs.renameSync(temp, dir)
      if (ctx.fsync) await whenDescriptorsFree(() => { fsyncDirSync(parent) }, wait)
    } catch (err) {
      fs.rmSync(temp, { recursive: true, force: true })
      // Lost to an entry that is complete (a filler that does not take our lock, e.g. an older tool): use it.
      if (isComplete(dir)) return dir
      throw err
    }
    return dir
  }, { ...options, closing: ctx.closing })
}

function isComplete (dir: string): boolean {
  // A file in the way (ENOTDIR) counts as incomplete: the next filler, under the lock, removes it.
  return statOrUndefined(path.join(dir, COMPLETE_MARKER))?.isFile() === true
}

/** Under the key's lock: temp folders of dead fillers, and an incomplete entry at the final path, are garbage. */
function removeLeftovers (parent: string, name: string, dir: string): void {
  for (const entry of fs.readdirSync(parent)) {
    if (isTempDirName(entry, name)) fs.rmSync(path.join(parent, entry), { recursive: true, force: true })
  }
  fs.rmSync(dir, { recursive: true, force: true })
}

/**
 * With the store's `fsync` option: every regular file and folder `fill` left under `dir` (links are not followed),
 * so an entry that survives a power cut with its marker also has its files. Asynchronous, one at a time: a clone of
 * thousands of files must not hold the event loop (other downloads' stall timers) for seconds. What this process may
 * not open at all (a file or folder of mode 000 that `fill` left) cannot be synced by a descriptor of its own: it is
 * left to the kernel's writeback rather than failing an entry that is complete without the option.
 */
async function syncTree (dir: string): Promise<void> {
  let entries: fs.Dirent[] = []
  try {
    entries = await readdirEntriesAsync(dir) // graceful-fs: out of descriptors, waits for one
  } catch (err) {
    if (!isPermissionError(err)) throw err
  }
  for (const entry of entries) {
    const full = path.join(dir, entry.name)
    if (entry.isDirectory()) await syncTree(full)
    else if (entry.isFile()) await fsyncPathAsync(full)
  }
  await fsyncPathAsync(dir)
}
