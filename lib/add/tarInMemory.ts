import zlib from 'node:zlib'
import { Header } from 'tar'

/**
 * Tarballs given whole (a Buffer) that unpack to at most this many bytes are read in memory: one `gunzipSync`
 * and a walk over the headers, instead of node-tar's streaming parser with a stream per entry. Below the ratio
 * limit's grace (64 MiB, `limits.ts`), so the in-memory reading judges a tarball by exactly the same limits.
 */
export const IN_MEMORY_MAX_BYTES = 16 * 1024 * 1024

/** One entry of a tarball read in memory: the header's fields the add uses, and the body (a view, not a copy). */
export interface TarEntry {
  /** The path as the header gives it (ustar prefix joined). */
  path: string
  /** node-tar's name for the type: 'File', 'OldFile', 'ContiguousFile', 'Directory', 'SymbolicLink', 'Link'. */
  type: string
  mode: number | undefined
  size: number
  body: Buffer
}

/** Entry types read in memory; any other (pax and GNU long-name headers, devices, FIFOs) leaves it to node-tar. */
const PLAIN_TYPES = new Set(['File', 'OldFile', 'ContiguousFile', 'Directory', 'SymbolicLink', 'Link'])
const LINKS = new Set(['Link', 'SymbolicLink'])
const BLOCK = 512
const GZIP_MAGIC = Buffer.from([0x1f, 0x8b])
const ZSTD_MAGIC = Buffer.from([0x28, 0xb5, 0x2f, 0xfd])

/**
 * The entries of a whole tarball (gzipped or plain), or undefined when this plain reading is not the one to trust
 * with it: larger than {@link IN_MEMORY_MAX_BYTES} unpacked, a gzip stream zlib refuses, a header whose checksum
 * is wrong or a number field that cannot be decoded, a missing path, a link without a target or anything else
 * with one, a type other than files, folders and links (pax extended headers, GNU long names…), a body cut short,
 * no end marker, data after it, no entry at all, input that starts like zstd. The caller then hands the same
 * bytes to node-tar's streaming parser, which reads every tar dialect and says precisely what is wrong with a
 * broken one: so this fast path never accepts what that parser would refuse, nor reads a name differently from it.
 */
export function tarEntriesInMemory (tarball: Buffer): TarEntry[] | undefined {
  let tar: Buffer
  if (startsWith(tarball, GZIP_MAGIC)) {
    try {
      tar = zlib.gunzipSync(tarball, { maxOutputLength: IN_MEMORY_MAX_BYTES })
    } catch {
      return undefined // corrupt, truncated or too large: node-tar's reading decides
    }
  } else {
    // node-tar takes input starting with zstd's magic for zstd, whatever follows.
    if (tarball.length > IN_MEMORY_MAX_BYTES || startsWith(tarball, ZSTD_MAGIC)) return undefined
    tar = tarball
  }
  const entries: TarEntry[] = []
  let offset = 0
  while (offset + BLOCK <= tar.length) {
    let header: Header
    try {
      header = new Header(tar, offset)
    } catch {
      return undefined // a number field node-tar cannot decode (bad base-256): its parser says so
    }
    // An archive of nothing but end blocks is no archive to node-tar ("unrecognized archive format").
    if (header.nullBlock) return entries.length > 0 && allZero(tar, offset) ? entries : undefined
    const { type, path } = header
    if (!header.cksumValid || type === undefined || !PLAIN_TYPES.has(type)) return undefined
    // The rules of node-tar's parser: a path; a target for a link, and none for anything else.
    if (path === undefined || path === '' || (LINKS.has(type) ? !header.linkpath : header.linkpath)) return undefined
    // (A regular file named like a folder, `a/`, is already a folder to node-tar's Header, as to its parser; a size
    // is a safe whole number: Header throws past 2^53 and reads a negative base-256 one as 0.)
    const size = header.size ?? 0
    // A body cut short ends the walk below with no end marker: left to node-tar.
    const start = offset + BLOCK
    entries.push({ path, type, mode: header.mode, size, body: tar.subarray(start, start + size) })
    offset = start + Math.ceil(size / BLOCK) * BLOCK
  }
  return undefined // no end marker (or a partial block): node-tar's reading decides
}

function startsWith (buffer: Buffer, magic: Buffer): boolean {
  return buffer.length >= magic.length && buffer.subarray(0, magic.length).equals(magic)
}

function allZero (buffer: Buffer, from: number): boolean {
  for (let i = from; i < buffer.length; i++) if (buffer[i] !== 0) return false
  return true
}
