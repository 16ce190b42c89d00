import fs from 'node:fs'
import path from 'node:path'
import { FileAccessError } from '../errors.js'
import { EventLoopTurns } from '../util/eventLoop.js'
import { errorCode } from '../util/fs.js'

/** One entry met under `files/`: a content file (named by its digest) or something else (a stray). */
export interface ContentEntry {
  path: string
  stat: fs.Stats
  /** The digest the name claims, for content files; undefined for strays. */
  digest?: string
  exec: boolean
}

const CONTENT_NAME = /^([0-9a-f]{126})(-exec)?$/

/**
 * Walks `<root>/files/` one bucket folder at a time (never the whole listing in memory), yielding every entry
 * with its lstat, except content names for which `skip(bucket, name, exec)` says the caller knows them already (no
 * lstat is made for those: a scan of 50k files costs 50k fewer syscalls), and except whole buckets for which
 * `skipBucket(bucket, names)` says so from the number of names listed. Names that are not `<126 hex>[-exec]`
 * are strays: temp files of writers that died (pnpm writes its temps next to their targets) or foreign files.
 */
export async function * walkContent (
  root: string, skip?: (bucket: string, name: string, exec: boolean) => boolean,
  skipBucket?: (bucket: string, names: number) => boolean,
): AsyncGenerator<ContentEntry> {
  const filesDir = path.join(root, 'files')
  // Every call below is synchronous: without turns, a Ctrl-C could not stop a prune or a sweep before its end. A
  // turn per bucket is often enough: a bucket is a few hundred names (a few thousand in a very large store).
  const pace = new EventLoopTurns()
  // Synchronous listing and lstat, one bucket at a time: a bucket is a few hundred names, and an async call per
  // name (or per bucket) costs a trip through libuv's thread pool each, which on a busy machine is most of a scan.
  for (const bucket of readdirOrEmptySync(filesDir)) {
    if (!/^[0-9a-f]{2}$/.test(bucket)) continue
    const paused = pace.turn()
    if (paused !== undefined) await paused
    const dir = path.join(filesDir, bucket)
    const names = readdirOrEmptySync(dir, false)
    if (skipBucket?.(bucket, names.length) === true) continue
    for (const name of names.sort()) {
      if (skip !== undefined && CONTENT_NAME.test(name) && skip(bucket, name, name.length > 126)) continue
      const file = path.join(dir, name)
      let stat: fs.Stats
      try {
        stat = fs.lstatSync(file)
      } catch (err) {
        if (errorCode(err) === 'ENOENT') continue
        throw new FileAccessError(file, err as NodeJS.ErrnoException)
      }
      const match = CONTENT_NAME.exec(name)
      yield match === null || !stat.isFile()
        ? { path: file, stat, exec: false }
        : { path: file, stat, digest: bucket + match[1], exec: match[2] !== undefined }
    }
  }
}

/** Sorted names in `dir`, or none when it does not exist. */
export async function readdirOrEmpty (dir: string): Promise<string[]> {
  try {
    return (await fs.promises.readdir(dir)).sort()
  } catch (err) {
    if (errorCode(err) === 'ENOENT' || errorCode(err) === 'ENOTDIR') return []
    throw new FileAccessError(dir, err as NodeJS.ErrnoException) // EACCES: a bucket this user may not read
  }
}

/** {@link readdirOrEmpty}, synchronous; sorted unless `sorted` is false (a bucket only counted needs no order). */
function readdirOrEmptySync (dir: string, sorted = true): string[] {
  try {
    const names = fs.readdirSync(dir)
    return sorted ? names.sort() : names
  } catch (err) {
    if (errorCode(err) === 'ENOENT' || errorCode(err) === 'ENOTDIR') return []
    throw new FileAccessError(dir, err as NodeJS.ErrnoException)
  }
}
