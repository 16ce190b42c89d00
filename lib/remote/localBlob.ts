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
  return { body: () => verifiedStream(filePath, digest), size }
}

async function * verifiedStream (filePath: string, digest: string): AsyncGenerator<Uint8Array> {
  const hash = crypto.createHash('sha512')
  let held: Buffer | undefined
  for await (const chunk of createReadStream(filePath)) {
    const bytes = chunk as Buffer
    hash.update(bytes)
    if (held !== undefined) yield held
    held = bytes
  }
  const actual = hash.digest('hex')
  if (actual !== digest) throw new IntegrityError(digest, actual, `store file ${filePath}`)
  if (held !== undefined) yield held
}
