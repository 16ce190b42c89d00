import fs from 'node:fs'
import path from 'node:path'
import { DIRS_FOLDER, isTempDirName, lockFileOfTempDir } from '../dir/dirLayout.js'
import { ifKeyLockFree, keyLockHeld } from '../lock/keyLock.js'
import { ageOf, isYoung, type ChangeTimes } from '../util/age.js'
import { errorCode } from '../util/fs.js'
import { IMPORT_JOURNAL_SUFFIX, OWNER_SUFFIX, TEMP_SUFFIX } from '../layout/tempName.js'
import { OWNERS_DIR, tempWriterAlive } from '../lock/tempOwner.js'
import { leftoverFolders, removeImportLeftovers } from './importLeftovers.js'
import { readdirOrEmpty } from './walkContent.js'

/** A leftover of a writer, filler or importer that did not finish (killed, crashed). */
export interface StaleTemp {
  path: string
  kind: 'temp-file' | 'fill-dir' | 'lock-file' | 'stray' | 'owner-record' | 'import-journal' | 'partial-download'
  ageMs: number
  size: number
  /**
   * `partial-download`: when it last changed (the later of mtime and ctime, ms since the epoch) as listed. Kept
   * bytes are taken and parked again under the same name by the next download of their digest; removal checks that
   * this is still the same version.
   */
  changedAt?: number
  /**
   * `import-journal`: the folders of its dead importer still left next to their targets (in node_modules, outside
   * the store), which go with it: temp folders `.<name>.cas-import-<id>` and old targets `.<name>.cas-old-<id>`.
   */
  folders?: string[]
}

const isImportJournal = (name: string): boolean => name.endsWith(IMPORT_JOURNAL_SUFFIX)

/**
 * Temp files and fill folders older than `graceMs` at `now`: `tmp/*` (ensureFile's temps) and
 * `dirs/*.cas-tmpdir-*` (ensureDir fills), dead importers' journals (`tmp/*.cas-imports`, with the folders they
 * left, see `importLeftovers.ts`), dead writers' owner records (`owners/`), downloads' kept bytes (`partial/`:
 * parked, or a dead writer's own file; see `fetch/ownPartial.ts`), and key lock files (`*.lock` in `dirs/`,
 * `partial/`, `locks/packages/`) of killed holders. Younger ones may belong to a live writer and are
 * never listed, and neither are temps whose writer's owner record is locked (a live writer, see
 * `write/tempOwner.ts`), whatever their age. Strays under `files/` are found by the content walk instead (see
 * {@link staleStray}).
 */
export async function * staleTemps (root: string, graceMs: number, now: number): AsyncGenerator<StaleTemp> {
  for (const [dir, kind, match] of [
    ['tmp', 'temp-file', (name: string) => !isImportJournal(name)],
    ['tmp', 'import-journal', isImportJournal],
    [DIRS_FOLDER, 'fill-dir', (name: string) => isTempDirName(name)],
    [OWNERS_DIR, 'owner-record', (name: string) => name.endsWith(OWNER_SUFFIX)],
    // Key lock files left by killed holders (a live holder removes its own on release).
    [DIRS_FOLDER, 'lock-file', (name: string) => name.endsWith('.lock')],
    ['partial', 'lock-file', (name: string) => name.endsWith('.lock')],
    // Downloads' bytes kept to resume (parked, or a dead writer's own file), past the grace: a later download of the
    // digest may never come (or the content is stored already), and nothing else would ever reclaim them.
    ['partial', 'partial-download', (name: string) => name.endsWith('.partial') || name.endsWith(TEMP_SUFFIX)],
    [path.join('locks', 'packages'), 'lock-file', (name: string) => name.endsWith('.lock')],
  ] as const) {
    for (const name of await readdirOrEmpty(path.join(root, dir))) {
      if (!match(name)) continue
      const file = path.join(root, dir, name)
      const stat = await fs.promises.lstat(file).catch((err: unknown) => {
        if (errorCode(err) === 'ENOENT') return undefined
        throw err
      })
      if (stat === undefined) continue
      // A temp whose writer is alive is never stale, however old: it may be queued behind a path lock.
      if (kind !== 'fill-dir' && tempWriterAlive(root, name) === true) continue
      if (isYoung(stat, graceMs, now)) continue
      // A lock file held right now belongs to a live holder (a long install), however old it is.
      if (kind === 'lock-file' && keyLockHeld(file)) continue
      const found: StaleTemp = { path: file, kind, ageMs: ageOf(stat, now), size: stat.size }
      if (kind === 'import-journal') yield { ...found, folders: leftoverFolders(file) }
      else if (kind === 'partial-download') yield { ...found, changedAt: Math.max(stat.mtimeMs, stat.ctimeMs) }
      else yield found
    }
  }
}

/** A stray regular file under `files/` (a dead writer's temp, a foreign file) when older than `graceMs` at `now`. */
// `stat` by the fields read (an fs.Stats fits): this module's types are published and must not need @types/node.
export function staleStray (
  file: string, stat: ChangeTimes & { size: number, isFile: () => boolean }, graceMs: number, now: number,
): StaleTemp | undefined {
  if (!stat.isFile() || isYoung(stat, graceMs, now)) return undefined
  return { path: file, kind: 'stray', ageMs: ageOf(stat, now), size: stat.size }
}

/**
 * Removes a stale temp file or fill folder; false when it had already gone or is in use. A fill folder is removed
 * only while its key's lock is free: a filler holds that lock for the whole fill, and a long `git clone` deep
 * inside the folder need not touch the folder's own mtime, so age alone would not prove it dead.
 */
export async function removeTemp (temp: StaleTemp): Promise<boolean> {
  const remove = async (): Promise<boolean> => {
    if (!fs.existsSync(temp.path)) return false
    await fs.promises.rm(temp.path, { recursive: true, force: true })
    return true
  }
  // An owner record is removed holding its lock, so a store of the same thread that takes it meanwhile either
  // keeps it (we find it locked) or sees it gone and makes a new one (TempOwner.hold checks the inode).
  if (temp.kind === 'owner-record') return (await ifKeyLockFree(temp.path, remove)) ?? false
  // A key lock file is removed only while free, under its own protocol (see withKeyLock), so a live holder keeps it.
  if (temp.kind === 'lock-file') {
    return fs.existsSync(temp.path) && (await ifKeyLockFree(temp.path, async () => true) ?? false)
  }
  // A dead importer's folders go first, each judged again (see importLeftovers.ts), then its journal.
  if (temp.kind === 'import-journal') return await removeImportLeftovers(temp.path)
  if (temp.kind === 'partial-download') return await removePartialDownload(temp)
  if (temp.kind !== 'fill-dir') return await remove()
  return (await ifKeyLockFree(lockFileOfTempDir(temp.path), remove)) ?? false
}

/**
 * A download's kept bytes, removed only while no download of their digest runs (its key lock, `partial/<digest>.lock`,
 * is free: downloads take, resume and park these files holding it), and only if the file has not changed since it
 * was listed. Otherwise the next download could have taken the old file and parked newer bytes under the same name
 * in between, and the listing would remove bytes its caller had just been told were kept.
 */
async function removePartialDownload (temp: StaleTemp): Promise<boolean> {
  const name = path.basename(temp.path)
  const lockFile = path.join(path.dirname(temp.path), `${name.slice(0, name.indexOf('.'))}.lock`)
  return (await ifKeyLockFree(lockFile, async () => {
    const stat = fs.lstatSync(temp.path, { throwIfNoEntry: false })
    // Changed since listed: later times, or (within one tick of the file system's clock) another size.
    const changed = stat === undefined || temp.changedAt === undefined || stat.size !== temp.size ||
      Math.max(stat.mtimeMs, stat.ctimeMs) > temp.changedAt
    if (changed) return false
    // Recursive: a folder someone made under such a name goes too, as any temp of the store's does.
    fs.rmSync(temp.path, { recursive: true, force: true })
    return true
  })) ?? false
}
