import { IndexCorruptError } from '../errors.js'
import { isExecutable } from '../layout/contentPath.js'
import type { IndexBackend } from '../pkgIndex/backend.js'
import { contentKey } from './contentKey.js'

/** Per content file the indexes name: how many package files use it, and its size. */
export interface ContentUse {
  refs: number
  size: number
}

/**
 * Reads every package index and returns what content they reference. Throws `ERR_CAS_INDEX_CORRUPT` at the first
 * unreadable index: whoever asks (prune, above all) must not mistake the files only that index names for unused.
 */
export async function referencedContent (indexes: IndexBackend): Promise<{ uses: Map<string, ContentUse>, packages: number }> {
  const uses = new Map<string, ContentUse>()
  let packages = 0
  for await (const { key, index, error } of indexes.list()) {
    if (index === undefined) {
      throw error ?? new IndexCorruptError(indexes.path, `the index ${JSON.stringify(key)} is unreadable`)
    }
    packages++
    for (const info of index.files.values()) {
      const k = contentKey(info.digest, isExecutable(info.mode))
      const use = uses.get(k)
      if (use === undefined) uses.set(k, { refs: 1, size: info.size })
      else use.refs++
    }
  }
  return { uses, packages }
}
