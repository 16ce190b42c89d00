import zlib from 'node:zlib'
import { Header } from 'tar'

export interface TarEntry {
  path: string
  body?: Buffer | string
  mode?: number
  type?: 'File' | 'Directory' | 'SymbolicLink'
  linkpath?: string
}

/**
 * Builds a tar archive byte by byte from raw headers, so tests can make archives no well-behaved packer would
 * (names with `..`, absolute names, duplicates), and gzips it unless `gzip` is false.
 */
export function makeTarball (entries: TarEntry[], { gzip = true } = {}): Buffer {
  const blocks: Buffer[] = []
  for (const entry of entries) {
    const body = Buffer.from(entry.body ?? '')
    const type = entry.type ?? 'File'
    const header = new Header({
      path: entry.path,
      mode: entry.mode ?? (type === 'Directory' ? 0o755 : 0o644),
      size: type === 'File' ? body.length : 0,
      type,
      linkpath: entry.linkpath,
      mtime: new Date('2020-01-01T00:00:00Z'),
      uid: 0,
      gid: 0,
    })
    const block = Buffer.alloc(512)
    header.encode(block, 0)
    blocks.push(block)
    if (type === 'File' && body.length > 0) {
      blocks.push(body, Buffer.alloc((512 - (body.length % 512)) % 512))
    }
  }
  blocks.push(Buffer.alloc(1024))
  const tar = Buffer.concat(blocks)
  return gzip ? zlib.gzipSync(tar) : tar
}
