import fs from 'node:fs'
import { errorCode, statOrUndefined } from '../util/fs.js'
import { hashFile } from '../util/hash.js'

/**
 * What stands at a content path, compared with the content that belongs there:
 * - `good`: a regular file holding exactly that content (`size` is its size);
 * - `missing`: nothing (or it vanished while being read);
 * - `wrong`: a regular file with other bytes;
 * - `not-a-file`: a directory, socket… (never ours to delete: it may hold someone's data);
 * - `unreadable`: it could not be stat'ed or read (permissions, I/O error); `error` says why.
 * Each caller decides what a state means for it (the writer replaces what is not good, the verifier reports).
 */
export type ContentProbe =
  | { state: 'good', size: number }
  | { state: 'missing' | 'wrong' | 'not-a-file' }
  | { state: 'unreadable', error: NodeJS.ErrnoException }

const MISSING: ContentProbe = { state: 'missing' }
const WRONG: ContentProbe = { state: 'wrong' }
const NOT_A_FILE: ContentProbe = { state: 'not-a-file' }

/**
 * Is exactly the content hashing to `digest` at `path`? Stats, then hashes. With `size` given, a different size
 * is `wrong` without reading (a cheap screen); with `size` undefined the bytes alone decide.
 */
export async function probeContent (path: string, digest: string, size?: number): Promise<ContentProbe> {
  const stat = statProbe(path)
  if (!(stat instanceof fs.Stats)) return stat
  if (size !== undefined && stat.size !== size) return WRONG
  try {
    return (await hashFile(path, stat.size)) === digest ? { state: 'good', size: stat.size } : WRONG
  } catch (err) {
    return readFailure(err)
  }
}

/**
 * Is exactly `data` at `path`? The synchronous probe of the writer's fast path: it compares bytes rather than
 * hashing them (the digest of `data` is already known, and memcmp is cheaper than sha512).
 */
export function probeBytes (path: string, data: Buffer): ContentProbe {
  const stat = statProbe(path)
  if (!(stat instanceof fs.Stats)) return stat
  if (stat.size !== data.length) return WRONG
  try {
    return fs.readFileSync(path).equals(data) ? { state: 'good', size: stat.size } : WRONG
  } catch (err) {
    return readFailure(err)
  }
}

function statProbe (path: string): fs.Stats | ContentProbe {
  let stat
  try {
    stat = statOrUndefined(path)
  } catch (err) {
    return { state: 'unreadable', error: err as NodeJS.ErrnoException }
  }
  if (stat === undefined) return MISSING
  return stat.isFile() ? stat : NOT_A_FILE
}

function readFailure (err: unknown): ContentProbe {
  // Removed between the stat and the read.
  if (errorCode(err) === 'ENOENT') return MISSING
  return { state: 'unreadable', error: err as NodeJS.ErrnoException }
}
