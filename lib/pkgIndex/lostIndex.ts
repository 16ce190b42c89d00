import fs from 'node:fs'
import path from 'node:path'
import { IndexLostError } from '../errors.js'
import type { PackageIndex } from '../types.js'
import type { IndexBackend, PackageIndexEntry } from './backend.js'
import { INDEX_DB_FILE } from './indexDb.js'

/**
 * True when `<root>/index.db` is a zero-byte file (and its WAL holds nothing) while `files/` holds content. SQLite
 * would take such a file for a new, empty database and an open would write a schema into it: every package would
 * then look gone, and the loss would be invisible. Such a store is opened with a {@link LostIndex} instead.
 */
export function isLostIndex (root: string): boolean {
  const size = (file: string): number | undefined => fs.statSync(path.join(root, file), { throwIfNoEntry: false })?.size
  if (size(INDEX_DB_FILE) !== 0 || (size(`${INDEX_DB_FILE}-wal`) ?? 0) > 0) return false
  const filesDir = path.join(root, 'files')
  for (const bucket of readdirOrEmpty(filesDir)) {
    if (/^[0-9a-f]{2}$/.test(bucket) && readdirOrEmpty(path.join(filesDir, bucket)).length > 0) return true
  }
  return false
}

function readdirOrEmpty (dir: string): string[] {
  try {
    return fs.readdirSync(dir)
  } catch {
    return []
  }
}

/**
 * The package index of a store whose index.db was lost (see {@link isLostIndex}): nothing is read or written
 * through it, every use fails with `ERR_CAS_INDEX_LOST` saying what to do, and `cas verify` reports it.
 */
export class LostIndex implements IndexBackend {
  readonly format = 'v11'
  readonly lost = true
  readonly path: string

  constructor (root: string) {
    this.path = path.join(root, INDEX_DB_FILE)
  }

  async read (_key: string): Promise<PackageIndex | undefined> { throw new IndexLostError(this.path) }
  async write (_key: string, _index: PackageIndex): Promise<void> { throw new IndexLostError(this.path) }
  async delete (_key: string, _revision?: string): Promise<boolean> { throw new IndexLostError(this.path) }
  async * list (): AsyncGenerator<PackageIndexEntry> { throw new IndexLostError(this.path) }
  async count (): Promise<number | undefined> { return 0 }
  async close (): Promise<void> {}
}
