import zlib from 'node:zlib'
import { Header } from 'tar'

/** A piece of plain data deflated once, to be repeated in a gzip stream without compressing it again. */
export interface Deflated {
  plain: Buffer
  deflated: Buffer
}

/**
 * Deflates `plain` so that it can be spliced anywhere into a deflate stream, any number of times: a full flush
 * ends it on a byte boundary with the compressor's history reset, so it never refers to bytes before it.
 */
export function deflateOnce (plain: Buffer, level = 6): Deflated {
  return { plain, deflated: zlib.deflateRawSync(plain, { level, finishFlush: zlib.constants.Z_FULL_FLUSH }) }
}

/**
 * Builds a gzip stream on the fly from pieces, most of them deflated once and repeated, so a test can make a
 * multi-GiB .tgz in seconds without storing it. Yields the compressed bytes; `end()` yields the trailer.
 */
export class GzipBuilder {
  #crc: number
  #size: number
  #started: boolean

  constructor () {
    this.#crc = 0
    this.#size = 0
    this.#started = false
  }

  /** The bytes for one piece (the gzip header first). */
  * piece (piece: Deflated | Buffer): Generator<Buffer> {
    if (!this.#started) {
      this.#started = true
      yield Buffer.from([0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff])
    }
    const { plain, deflated } = Buffer.isBuffer(piece) ? deflateOnce(piece, 1) : piece
    this.#crc = crc32(plain, this.#crc)
    this.#size = (this.#size + plain.length) % 2 ** 32
    yield deflated
  }

  /** The last, empty deflate block and the gzip trailer (CRC-32 and size of all plain bytes). */
  * end (): Generator<Buffer> {
    yield zlib.deflateRawSync(Buffer.alloc(0))
    const trailer = Buffer.alloc(8)
    trailer.writeUInt32LE(this.#crc >>> 0, 0)
    trailer.writeUInt32LE(this.#size, 4)
    yield trailer
  }
}

function crc32 (data: Buffer, previous: number): number {
  const fn = (zlib as unknown as { crc32?: (data: Buffer, value: number) => number }).crc32
  if (fn === undefined) throw new Error(`zlib.crc32 is missing: these tests need Node >= 20.15 (this is ${process.version})`)
  return fn(data, previous)
}

/** A 512-byte tar header for a regular file. */
export function tarHeader (name: string, size: number, mode = 0o644): Buffer {
  const block = Buffer.alloc(512)
  new Header({ path: name, mode, size, type: 'File', mtime: new Date('2020-01-01T00:00:00Z'), uid: 0, gid: 0 }).encode(block, 0)
  return block
}

/** Zero padding after a body of `size` bytes, up to the next 512-byte block. */
export function tarPadding (size: number): Buffer {
  return Buffer.alloc((512 - (size % 512)) % 512)
}
