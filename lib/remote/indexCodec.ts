import zlib from 'node:zlib'
import { isDigestHex } from '../digest/sri.js'
import { isSafePackageFileName } from '../pkgIndex/fileName.js'
import type { FileInfo, PackageIndex } from '../types.js'

/** The `format` field every remote index carries, so a reader (or a person with curl) knows what it is looking at. */
export const REMOTE_INDEX_FORMAT = 'cas-store/package-index'
/** Bumped when the encoding changes in a way an older reader must refuse. */
export const REMOTE_INDEX_VERSION = 1

/**
 * A remote index may not be, or inflate to, more than this: a gzip bomb (or an endless answer) from the server must
 * not exhaust a runner's memory.
 */
export const MAX_INDEX_BYTES = 64 * 1024 * 1024

/**
 * Encodes a package index for the remote cache: gzipped JSON that names its own format and version and repeats
 * its key (`curl … | gunzip | jq` shows it). JSON rather than the `index.db` MessagePack: any tool can read it,
 * and it carries no local state. Gzipped because an index is mostly sha512 digests, 128 hex characters each: it
 * halves the bytes a runner downloads per file on top of the file itself. `checkedAt`
 * is left out (it says when *this* machine last checked a file; a reader sets its own after verifying), and so is
 * anything that is not plain data (pnpm's side-effects maps describe one machine's build outputs).
 */
export function encodeRemoteIndex (key: string, index: PackageIndex, pack?: RemotePack): Uint8Array {
  const files: Record<string, { digest: string, mode: number, size: number, offset?: number }> = {}
  for (const [name, info] of index.files) {
    const offset = pack?.offsets.get(info.digest)
    files[name] = offset === undefined
      ? { digest: info.digest, mode: info.mode, size: info.size }
      : { digest: info.digest, mode: info.mode, size: info.size, offset }
  }
  const doc: Record<string, unknown> = { format: REMOTE_INDEX_FORMAT, version: REMOTE_INDEX_VERSION, key, algo: 'sha512', files }
  if (pack !== undefined) doc.pack = { digest: pack.digest, size: pack.size }
  // Fields in a fixed order, so one package encodes to the same bytes on every machine (uploads compare equal).
  for (const [field, value] of Object.entries(index).sort(([x], [y]) => x < y ? -1 : 1)) {
    if (field in doc || field === 'files' || field === 'sideEffects' || value === undefined) continue
    if (field === 'manifest' || ['string', 'number', 'boolean'].includes(typeof value)) doc[field] = value
  }
  return zlib.gzipSync(JSON.stringify(doc))
}

/**
 * Decodes a remote index (gzipped or plain JSON) and checks everything a store relies on: the format and version,
 * that it is the index of `key` (not some other package's, misfiled), sha512 digests, integer modes and sizes,
 * offsets inside the pack, and file names that stay inside the package. Throws a plain Error saying what is
 * wrong (the caller names the URL).
 */
export function decodeRemoteIndex (key: string, data: Uint8Array): PackageIndex {
  return decodeRemoteIndexDoc(key, data).index
}

/**
 * A package's pack as its index names it: a content file (named by its sha512) holding the package's small
 * files back to back; `offsets` says where each digest starts. See `packPlan.ts`.
 */
export interface RemotePack {
  digest: string
  size: number
  offsets: Map<string, number>
}

/** {@link decodeRemoteIndex}, with the package's pack when it has one. */
export function decodeRemoteIndexDoc (key: string, data: Uint8Array): { index: PackageIndex, pack?: RemotePack } {
  let text: Buffer = Buffer.from(data)
  if (text[0] === 0x1f && text[1] === 0x8b) {
    try {
      text = zlib.gunzipSync(text, { maxOutputLength: MAX_INDEX_BYTES })
    } catch (err) {
      throw new Error(`it does not gunzip (${(err as Error).message})`)
    }
  }
  let doc: unknown
  try {
    doc = JSON.parse(text.toString('utf8'))
  } catch {
    throw new Error('it is not JSON')
  }
  if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) throw new Error('it is not a JSON object')
  const { format, version, key: docKey, algo, files, pack: rawPack, ...rest } = doc as Record<string, unknown>
  if (format !== REMOTE_INDEX_FORMAT) throw new Error(`its format is ${JSON.stringify(format)}, not ${REMOTE_INDEX_FORMAT}`)
  if (version !== REMOTE_INDEX_VERSION) throw new Error(`it is version ${String(version)}; this cas-store reads version ${REMOTE_INDEX_VERSION}`)
  if (docKey !== key) throw new Error('it is the index of another package')
  if (algo !== 'sha512') throw new Error(`unsupported algo ${String(algo)}`)
  if (files === null || typeof files !== 'object' || Array.isArray(files)) throw new Error('it has no files list')
  let pack: RemotePack | undefined
  if (rawPack !== undefined) {
    const p = rawPack as Record<string, unknown> | null
    if (p === null || typeof p !== 'object' || !isDigestHex(p.digest) || !Number.isSafeInteger(p.size) || (p.size as number) < 0) {
      throw new Error('its pack is malformed')
    }
    pack = { digest: p.digest, size: p.size as number, offsets: new Map() }
  }
  const out = new Map<string, FileInfo>()
  for (const [name, raw] of Object.entries(files)) {
    const info = raw as Record<string, unknown> | null
    if (!isSafePackageFileName(name) || info === null || typeof info !== 'object' || !isDigestHex(info.digest) ||
        !Number.isSafeInteger(info.mode) || (info.mode as number) < 0 ||
        !Number.isSafeInteger(info.size) || (info.size as number) < 0) {
      throw new Error(`its entry for ${JSON.stringify(name)} is malformed`)
    }
    out.set(name, { digest: info.digest, mode: info.mode as number, size: info.size as number })
    if (info.offset !== undefined) {
      const offset = info.offset
      if (pack === undefined || !Number.isSafeInteger(offset) || (offset as number) < 0 ||
          (offset as number) + (info.size as number) > pack.size ||
          (pack.offsets.has(info.digest) && pack.offsets.get(info.digest) !== offset)) {
        throw new Error(`its entry for ${JSON.stringify(name)} points outside its pack`)
      }
      pack.offsets.set(info.digest, offset as number)
    }
  }
  if (rest.manifest !== undefined && (rest.manifest === null || typeof rest.manifest !== 'object' || Array.isArray(rest.manifest))) {
    throw new Error('its manifest is not an object')
  }
  if (rest.requiresBuild !== undefined && typeof rest.requiresBuild !== 'boolean') throw new Error('its requiresBuild is not a boolean')
  const index: PackageIndex = { algo: 'sha512', files: out }
  for (const [field, value] of Object.entries(rest)) {
    if (field === 'manifest' || ['string', 'number', 'boolean'].includes(typeof value)) index[field] = value
  }
  return pack === undefined ? { index } : { index, pack }
}
