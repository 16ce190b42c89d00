import path from 'node:path'
import { ReadOnlyStoreError } from '../errors.js'
import type { PackageIndex } from '../types.js'
import type { IndexBackend, PackageIndexEntry } from './backend.js'
import { INDEX_DB_FILE } from './indexDb.js'

/** The package index of a store opened read-only that has no index.db yet: it holds no package. */
export class EmptyIndex implements IndexBackend {
  readonly format = 'v11'
  readonly path: string
  readonly #root: string

  constructor (root: string) {
    this.#root = root
    this.path = path.join(root, INDEX_DB_FILE)
  }

  async read (_key: string): Promise<PackageIndex | undefined> { return undefined }
  async write (_key: string, _index: PackageIndex): Promise<void> { throw new ReadOnlyStoreError(this.#root, 'write a package index') }
  async delete (_key: string, _revision?: string): Promise<boolean> { return false }
  async * list (): AsyncGenerator<PackageIndexEntry> {}
  async count (): Promise<number | undefined> { return 0 }
  async close (): Promise<void> {}
}
