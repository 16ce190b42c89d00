import crypto from 'node:crypto'
import fs from 'node:fs'

/*
 * The verifier's work in a store thread (see `threads/threadPool.ts`). Imports nothing but Node built-ins, so a
 * thread loads it in a few milliseconds. It answers one question per file, lock-free: do the bytes at this path
 * hash to this digest right now? A yes is final (good content is only ever replaced by good content); anything
 * else is "not known good", and the calling thread judges that file itself with `checkFile`, whose locked
 * re-check alone may lead to a removal. A thread never removes, renames or locks anything.
 */

/** A file the thread proved good (its bytes hash to its digest); 0: not known good. */
export const HASHED_GOOD = 1

/** Files are read into one reused buffer of this size (memory stays bounded whatever the file's size). */
const READ_SIZE = 1024 * 1024
let buffer: Buffer | undefined

/** `crypto.hash` (Node 20.12+, 21.7+): sha512 of a buffer without a Hash object; undefined on older Nodes. */
const oneShot = (crypto as { hash?: (algorithm: string, data: Uint8Array, encoding: 'hex') => string }).hash

/** What the calling thread sends: the files of one chunk, as parallel arrays (cheap to clone). */
export interface HashTask {
  paths: string[]
  digests: string[]
  sizes: number[]
}

/** One byte per file: {@link HASHED_GOOD} or 0. */
export function hashFiles (task: HashTask): Uint8Array {
  const answers = new Uint8Array(task.paths.length)
  for (let i = 0; i < answers.length; i++) {
    if (bytesHashTo(task.paths[i]!, task.digests[i]!, task.sizes[i]!)) answers[i] = HASHED_GOOD
  }
  return answers
}

/** True only for a regular file of `size` bytes whose sha512 is `digest`; any error is "not known good". */
function bytesHashTo (file: string, digest: string, size: number): boolean {
  let fd: number
  try {
    // O_NONBLOCK: a FIFO planted at a content path must not hang the thread (its read then fails: not good).
    fd = fs.openSync(file, fs.constants.O_RDONLY | (fs.constants.O_NONBLOCK ?? 0))
  } catch {
    return false
  }
  try {
    const stat = fs.fstatSync(fd)
    if (!stat.isFile() || stat.size !== size) return false
    buffer ??= Buffer.allocUnsafe(READ_SIZE)
    if (size < READ_SIZE && oneShot !== undefined) {
      // One read of all its bytes (asking for one more shows there are no more) and a one-shot hash: for small
      // files the hash object per file costs about as much as the hashing.
      const n = fs.readSync(fd, buffer, 0, size + 1, null)
      return n === size && oneShot('sha512', buffer.subarray(0, n), 'hex') === digest
    }
    const hash = crypto.createHash('sha512')
    let total = 0
    for (;;) {
      // Ask for one byte more than is left: a short read is the end of the file, without a last empty read.
      const want = Math.min(buffer.length, size - total + 1)
      const n = fs.readSync(fd, buffer, 0, want, null)
      if (n === 0) break
      hash.update(buffer.subarray(0, n))
      total += n
      if (total > size) return false
      if (n < want) break
    }
    return total === size && hash.digest('hex') === digest
  } catch {
    return false
  } finally {
    fs.closeSync(fd)
  }
}
