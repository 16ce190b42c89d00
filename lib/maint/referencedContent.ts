import { IndexCorruptError, InterruptedError } from '../errors.js'
import { isExecutable } from '../layout/contentPath.js'
import type { IndexBackend } from '../pkgIndex/backend.js'
import type { AbortSignalLike } from '../util/abortSignal.js'
import { EventLoopTurns } from '../util/eventLoop.js'
import { contentKey } from './contentKey.js'
import { indexContent } from './indexContent.js'

/** Per content file the indexes name: how many package files use it, and its size. */
export interface ContentUse {
  refs: number
  size: number
}

/**
 * Reads every package index and returns what content they reference (package files and cached build outputs).
 * Throws `ERR_CAS_INDEX_CORRUPT` at the first unreadable index, unless `onUnreadable` is given: whoever removes
 * (prune) must not mistake the files only that index names for unused; whoever only counts (stat) goes on.
 */
export async function referencedContent (
  indexes: IndexBackend, signal?: AbortSignalLike, onUnreadable?: (key: string, error: IndexCorruptError) => void,
): Promise<{ uses: Map<string, ContentUse>, packages: number }> {
  const uses = new Map<string, ContentUse>()
  let packages = 0
  const pace = new EventLoopTurns() // index pages are synchronous reads: let a Ctrl-C in
  for await (const { key, index, error } of indexes.list()) {
    const paused = pace.turn()
    if (paused !== undefined) await paused
    if (index === undefined) {
      const err = error ?? new IndexCorruptError(indexes.path, `the index ${JSON.stringify(key)} is unreadable`, {
        scope: 'one-index',
      })
      if (onUnreadable === undefined) throw err
      onUnreadable(key, err as IndexCorruptError)
      continue
    }
    let content: Array<[string, { digest: string, mode: number, size: number }]>
    try {
      content = [...indexContent(index)]
    } catch (err) {
      const corrupt = new IndexCorruptError(indexes.path, `the index ${JSON.stringify(key)} cannot be understood (${(err as Error).message})`, {
        cause: err, scope: 'one-index',
      })
      if (onUnreadable === undefined) throw corrupt
      onUnreadable(key, corrupt)
      continue
    }
    packages++
    if (signal?.aborted === true) throw new InterruptedError('Reading the package indexes')
    for (const [, info] of content) {
      const k = contentKey(info.digest, isExecutable(info.mode))
      const use = uses.get(k)
      if (use === undefined) uses.set(k, { refs: 1, size: info.size })
      else use.refs++
    }
  }
  return { uses, packages }
}
