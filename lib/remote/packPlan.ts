import type { FileInfo } from '../types.js'

/** Files up to this size travel in their package's pack rather than one request each. */
export const PACK_FILE_LIMIT = 64 * 1024
/** A pack stops growing here, so a reader never holds more than this of one package in memory. */
export const PACK_MAX_BYTES = 8 * 1024 * 1024

/** Which files of a package go into its pack, and where each one sits in it. */
export interface PackPlan {
  /** Distinct digests in pack order, with their sizes and offsets. */
  members: Array<{ digest: string, size: number, offset: number }>
  /** Digest -> offset in the pack. */
  offsets: Map<string, number>
  /** The pack's size in bytes. */
  size: number
}

/**
 * Plans a package's pack: its small files (each distinct content once), concatenated in digest order. Why packs:
 * a package is mostly small files, and one HTTP request per file costs far more than the bytes (a cold runner
 * would send tens of thousands of requests where the tarball path sends one per package). With a pack a cold
 * runner GETs one object per package, and a warm one asks for just the byte ranges of the files it lacks. The
 * order depends only on the files, so every uploader of a package builds the very same pack, named by its sha512
 * like any other content file. Undefined when the package has fewer than two small files (nothing to gain).
 */
export function planPack (files: Iterable<FileInfo>): PackPlan | undefined {
  const small = new Map<string, number>()
  // Empty files stay out: a range of no bytes cannot be asked for (servers answer 416), and a reader needs no
  // download for them at all (see pullPackage).
  for (const info of files) if (info.size > 0 && info.size <= PACK_FILE_LIMIT) small.set(info.digest, info.size)
  if (small.size < 2) return undefined
  const members: PackPlan['members'] = []
  const offsets = new Map<string, number>()
  let size = 0
  for (const digest of [...small.keys()].sort()) {
    const length = small.get(digest)!
    if (size + length > PACK_MAX_BYTES) continue
    members.push({ digest, size: length, offset: size })
    offsets.set(digest, size)
    size += length
  }
  return { members, offsets, size }
}
