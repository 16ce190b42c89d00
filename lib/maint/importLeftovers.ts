import fs from 'node:fs'
import path from 'node:path'
import { asidePathOf, stageOwner } from '../import/stageNames.js'
import { ownerIdOfTemp } from '../layout/tempName.js'

/**
 * A journal is emptied past 64 KiB whenever no import is in flight (see `lock/importJournal.ts`); only a folder
 * that could not be removed keeps it growing, by one short entry per import. A file in `tmp/` bigger than this is
 * not one a store wrote, and is not read (it would all be held in memory), only removed as a stale temp file.
 */
export const MAX_JOURNAL_BYTES = 64 * 1024 * 1024

/**
 * The folders that a dead importer's journal (`tmp/<id>.cas-imports`, see `lock/importJournal.ts`) names and
 * that are still there: its imports' temp folders and the old targets they moved aside (most entries name folders
 * long gone: renamed into place or removed). The caller has judged the journal's owner dead (`tempWriterAlive`):
 * while it lives, any folder it names may be an import in progress.
 *
 * The journal is a file in a store other users may write to: its content is treated as hostile. An entry counts
 * only if it is an absolute path whose name is `.<name>.cas-import-<id>` with an id of the journal's own owner
 * (pid, thread and random bytes), and a folder is listed only if `lstat` finds a real directory (never through a
 * symlink at that name). A journal naming `/home/user`, or another owner's folder, yields nothing.
 */
export function leftoverFolders (journal: string): string[] {
  const owner = ownerIdOfTemp(path.basename(journal))
  if (owner === undefined) return []
  const text = readJournal(journal)
  if (text === undefined) return []
  const folders = new Set<string>()
  // Each entry ends with a NUL; what follows the last one is an entry a crash cut short (or nothing).
  for (const stage of new Set(text.split('\0').slice(0, -1))) {
    if (!path.isAbsolute(stage) || stageOwner(stage) !== owner) continue
    for (const folder of [stage, asidePathOf(stage)]) {
      if (isRealDirectory(folder)) folders.add(folder)
    }
  }
  return [...folders]
}

/**
 * Removes a dead importer's leftover folders ({@link leftoverFolders}, judged again now), then its journal; false
 * when the journal had already gone. The journal goes last: a cleaner stopped halfway leaves it naming what is
 * left, for the next one.
 */
export async function removeImportLeftovers (journal: string): Promise<boolean> {
  if (fs.lstatSync(journal, { throwIfNoEntry: false }) === undefined) return false
  // `rm` never follows a symlink, at the top or inside: a folder swapped for a link since the lstat loses the
  // link only.
  for (const folder of leftoverFolders(journal)) await fs.promises.rm(folder, { recursive: true, force: true })
  // Whatever is at the journal's name (a foreign file, a folder, a link): it is in tmp/, and stale.
  await fs.promises.rm(journal, { recursive: true, force: true })
  return true
}

function isRealDirectory (folder: string): boolean {
  try {
    return fs.lstatSync(folder, { throwIfNoEntry: false })?.isDirectory() === true
  } catch {
    return false // ENOTDIR, ENAMETOOLONG, EACCES…: not a folder this cleaner can see, so not one it removes
  }
}

/** The journal's text, or undefined when it is not a regular file of a sane size (a FIFO, a link, a huge file). */
function readJournal (journal: string): string | undefined {
  let fd: number
  try {
    // O_NOFOLLOW: never read through a link; O_NONBLOCK: a FIFO at that name does not block the open.
    fd = fs.openSync(journal, fs.constants.O_RDONLY | fs.constants.O_NOFOLLOW | fs.constants.O_NONBLOCK)
  } catch {
    return undefined
  }
  try {
    const stat = fs.fstatSync(fd)
    if (!stat.isFile() || stat.size > MAX_JOURNAL_BYTES) return undefined
    const bytes = Buffer.alloc(stat.size)
    let read = 0
    while (read < bytes.length) {
      const n = fs.readSync(fd, bytes, read, bytes.length - read, read)
      if (n === 0) break
      read += n
    }
    return bytes.subarray(0, read).toString('utf8')
  } finally {
    fs.closeSync(fd)
  }
}
