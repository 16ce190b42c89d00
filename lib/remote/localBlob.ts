import crypto from 'node:crypto'
import { IntegrityError, NotAFileError } from '../errors.js'
import { createReadStream, readFileAsync, statOrUndefined } from '../util/fs.js'
import { hashFile, sha512Hex, SYNC_IO_LIMIT } from '../util/hash.js'
import type { PutBody } from './http.js'

/** A local content file ready to upload. */
export interface LocalBlob {
  body: PutBody
  size: number
}

/**
 * Opens the store's content file for upload, so that the server can only ever receive bytes that hash to the
 * file's name: a small file is read and hashed up front; a large one is streamed with its last chunk held back
 * until the whole file has hashed right, so a file that changed on disk aborts the PUT before its last byte and
 * the server (which stores a body only once it is complete) keeps nothing. Undefined when the file is missing.
 */
export async function openLocalBlob (filePath: string, digest: string, size: number): Promise<LocalBlob | undefined> {
  const stat = statOrUndefined(filePath)
  if (stat === undefined) return undefined
  if (!stat.isFile()) throw new NotAFileError(filePath)
  if (stat.size !== size) throw new IntegrityError(digest, await hashFile(filePath, stat.size), `store file ${filePath}`)
  if (size <= SYNC_IO_LIMIT) {
    const data = await readFileAsync(filePath)
    const actual = sha512Hex(data)
    if (actual !== digest) throw new IntegrityError(digest, actual, `store file ${filePath}`)
    return { body: data, size }
  }
  return { body: () => verifiedStream(filePath, digest, size), size }
}

/**
 * The file's bytes, read only as far as `size` (what the PUT announced) and one byte past it, with the bytes that
 * would complete the announced length held back until the whole has hashed right. A server stores a body once it
 * has `size` bytes, so no chunk may bring the count to `size` before the check: a file rewritten longer since it
 * was opened (a hard-linked copy edited in place) would otherwise reach the server whole under its old name, its
 * first `size` bytes sent before the byte past them was read. Held back is at most one chunk and that one byte.
 */
async function * verifiedStream (filePath: string, digest: string, size: number): AsyncGenerator<Uint8Array> {
  const hash = crypto.createHash('sha512')
  const tail: Buffer[] = []
  let sent = 0
  for await (const chunk of createReadStream(filePath, { start: 0, end: size })) { // `end` is inclusive
    const bytes = chunk as Buffer
    hash.update(bytes)
    if (tail.length === 0 && sent + bytes.length < size) {
      sent += bytes.length
      yield bytes
    } else {
      tail.push(bytes)
    }
  }
  const actual = hash.digest('hex')
  if (actual !== digest) throw new IntegrityError(digest, actual, `store file ${filePath}`)
  yield * tail
}
