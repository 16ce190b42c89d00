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
const BLOCK = 512

/**
 * The entries of a whole tarball (gzipped or plain), or undefined when this plain reading is not the one to trust
 * with it: larger than {@link IN_MEMORY_MAX_BYTES} unpacked, a gzip stream zlib refuses, a header whose checksum
 * is wrong, a type other than files, folders and links (pax extended headers, GNU long names…), a body cut short,
 * data after the end marker. The caller then hands the same bytes to node-tar's streaming parser, which reads
 * every tar dialect and says precisely what is wrong with a broken one: so this fast path never accepts what
 * that parser would refuse, nor reads a name differently from it.
 */
export function tarEntriesInMemory (tarball: Buffer): TarEntry[] | undefined {
  let tar: Buffer
  if (tarball.length >= 2 && tarball[0] === 0x1f && tarball[1] === 0x8b) {
    try {
      tar = zlib.gunzipSync(tarball, { maxOutputLength: IN_MEMORY_MAX_BYTES })
    } catch {
      return undefined // corrupt, truncated or too large: node-tar's reading decides
    }
  } else {
    if (tarball.length > IN_MEMORY_MAX_BYTES) return undefined
    tar = tarball
  }
  const entries: TarEntry[] = []
  let offset = 0
  while (offset + BLOCK <= tar.length) {
    const header = new Header(tar, offset)
    if (header.nullBlock) return allZero(tar, offset) ? entries : undefined
    if (!header.cksumValid || header.type === undefined || !PLAIN_TYPES.has(header.type)) return undefined
    const size = header.size ?? 0
    const path = header.path
    // (A regular file named like a folder, `a/`, is already a folder to node-tar's Header, as to its parser.)
    if (path === undefined || !Number.isSafeInteger(size) || size < 0) return undefined
    // A body cut short ends the walk below with no end marker: left to node-tar.
    const start = offset + BLOCK
    entries.push({ path, type: header.type, mode: header.mode, size, body: tar.subarray(start, start + size) })
    offset = start + Math.ceil(size / BLOCK) * BLOCK
  }
  return undefined // no end marker (or a partial block): node-tar's reading decides
}

function allZero (buffer: Buffer, from: number): boolean {
  for (let i = from; i < buffer.length; i++) if (buffer[i] !== 0) return false
  return true
}
