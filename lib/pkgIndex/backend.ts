import type { CasError } from '../errors.js'
import type { PackageIndex } from '../types.js'

/** One package index met while listing a store, or the reason it could not be read. */
export interface PackageIndexEntry {
  /**
   * The index's key: `<tarball integrity>\t<pkgId>` in a v11 store; in a v10 store the JSON file's path relative
   * to the store root (`index/ab/cdef…-name@1.0.0.json`), since a v10 file name keeps only half the integrity.
   * Either form is accepted back by `readPackageIndex` and `deletePackageIndex`.
   */
  key: string
  /** The index, when it could be read. */
  index?: PackageIndex
  /** Why it could not be read (`ERR_CAS_INDEX_CORRUPT`); a scan goes on past it. */
  error?: CasError
  /**
   * Set when the row's key is not one pnpm 11/12 write: the index is listed (its content still counts as used)
   * but cannot be read back by key; `cas verify` reports it and `--fix` deletes it.
   */
  keyProblem?: string
  /**
   * Opaque: what the index was when listed. Pass it to `deletePackageIndex(key, revision)` to delete the index
   * only if nobody rewrote it since (a repair must not delete a row an install has just renewed).
   */
  revision?: string
}

/** Where a store keeps its package indexes: pnpm 11/12's `index.db`, or pnpm 10's JSON files. Internal. */
export interface IndexBackend {
  /** `v11` (index.db, read and write) or `v10` (JSON files, read and delete). */
  readonly format: 'v11' | 'v10'
  /** The index file or folder, for messages. */
  readonly path: string
  /** True when index.db was found lost (empty next to content): every use fails with `ERR_CAS_INDEX_LOST`. */
  readonly lost?: boolean
  read (key: string): Promise<PackageIndex | undefined>
  write (key: string, index: PackageIndex): Promise<void>
  /** Deletes the index; with `revision`, only if it is still the one listed with that revision. */
  delete (key: string, revision?: string): Promise<boolean>
  list (): AsyncGenerator<PackageIndexEntry>
  /** How many indexes there are, when that is cheap to know (v11); undefined otherwise. */
  count (): Promise<number | undefined>
  close (): Promise<void>
}
