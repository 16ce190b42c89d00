import crypto from 'node:crypto'
import fs from 'node:fs'
import { createReadStream, isFdExhaustion, readFileAsync } from './fs.js'

/**
 * Files up to this size are read and hashed synchronously in one go: for small files the cost is syscalls, and a
 * promise per syscall through libuv's thread pool costs several times a synchronous call. Larger files are streamed
 * so memory stays bounded.
 */
export const SYNC_IO_LIMIT = 1024 * 1024

/** sha512 of a buffer, hex. */
export function sha512Hex (data: Uint8Array): string {
  return crypto.createHash('sha512').update(data).digest('hex')
}

/** sha512 of a file's bytes, hex; `size` (from a stat just made) picks the sync or the streamed read. */
export async function hashFile (path: string, size: number): Promise<string> {
  if (size <= SYNC_IO_LIMIT) {
    try {
      return sha512Hex(fs.readFileSync(path))
    } catch (err) {
      if (!isFdExhaustion(err)) throw err
      return sha512Hex(await readFileAsync(path)) // graceful-fs waits for a free descriptor
    }
  }
  const hash = crypto.createHash('sha512')
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer)
  return hash.digest('hex')
}
