import crypto from 'node:crypto'
import path from 'node:path'
import { uniqueId } from '../layout/tempName.js'

/**
 * Names under `<root>/dirs/`, owned here alone: the directory entry of a key, its lock file, and its temp
 * folders. `ensureDir` creates them; `cas verify`/`prune` find dead fillers' temp folders and their locks by them.
 */
export const DIRS_FOLDER = 'dirs'

/** Infix of a directory entry's temp folders: `<name>.cas-tmpdir-<unique id>`. */
export const TEMP_DIR_INFIX = '.cas-tmpdir-'

/** Where the entry, its lock file and its temp folders for `key` live: `<root>/dirs/<sha256 of key>`. */
export function dirEntryPaths (
  root: string, key: string,
): { dir: string, lockFile: string, name: string, parent: string } {
  const name = crypto.createHash('sha256').update(key).digest('hex')
  const parent = path.join(root, DIRS_FOLDER)
  return { dir: path.join(parent, name), lockFile: lockFileOf(parent, name), name, parent }
}

/** A fresh temp folder for the entry `name` in `parent`, never returned twice by any thread of any process. */
export function tempDirFor (parent: string, name: string): string {
  return path.join(parent, `${name}${TEMP_DIR_INFIX}${uniqueId()}`)
}

/** True for a temp folder's name (of any entry); with `name`, of that entry. */
export function isTempDirName (entry: string, name?: string): boolean {
  return name === undefined ? entry.includes(TEMP_DIR_INFIX) : entry.startsWith(name + TEMP_DIR_INFIX)
}

/** The lock file of the entry a temp folder belongs to: its filler holds it for the whole fill. */
export function lockFileOfTempDir (tempDir: string): string {
  const base = path.basename(tempDir)
  return lockFileOf(path.dirname(tempDir), base.slice(0, base.indexOf(TEMP_DIR_INFIX)))
}

function lockFileOf (parent: string, name: string): string {
  return path.join(parent, `${name}.lock`)
}
