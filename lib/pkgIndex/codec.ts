import { Packr, Unpackr } from 'msgpackr'
import { InvalidArgumentError } from '../errors.js'
import type { FileInfo, PackageIndex } from '../types.js'
import { fileEntryProblem } from './fileInfo.js'
import { requiresBuild } from './manifest.js'

// The exact msgpackr settings pnpm 11/12 use for index.db rows ("records" = a key list written once per object
// shape, "moreTypes" = Map and other extended types). Rows encoded here are byte-identical to pnpm 12's own for the
// same content, which is what lets pnpm read what cas-store writes (test/pkgIndex/pnpmInterop.test.ts).
const packr = new Packr({ useRecords: true, moreTypes: true })
const unpackr = new Unpackr({ useRecords: true, moreTypes: true })

/**
 * Encodes a package index as an `index.db` row value, in the field order pnpm writes. Refuses
 * (`ERR_CAS_INVALID_ARGUMENT`) a file entry its own reader would reject (`fileEntryProblem`): a row written is a
 * row every reader can use.
 */
export function encodePackageIndex (index: PackageIndex): Buffer {
  if (index === null || typeof index !== 'object' || !(index.files instanceof Map)) {
    throw new InvalidArgumentError('writePackageIndex: the index must be { algo: "sha512", files: Map<name, FileInfo> }')
  }
  for (const [name, info] of index.files) {
    const problem = fileEntryProblem(name, info)
    if (problem !== undefined) throw new InvalidArgumentError(`writePackageIndex: refusing the index: ${problem}. Fix the entry; readers (cas-store, pnpm) could not use it.`)
  }
  const { algo, files, manifest, requiresBuild: build, ...rest } = index
  const row: Record<string, unknown> = {
    algo: algo ?? 'sha512',
    requiresBuild: build ?? requiresBuild(manifest, files),
  }
  if (manifest !== undefined) row.manifest = manifest
  const encodedFiles = new Map<string, FileInfo>()
  for (const [name, info] of files) {
    encodedFiles.set(name, { digest: info.digest, mode: info.mode, size: info.size, checkedAt: info.checkedAt ?? 0 })
  }
  row.files = encodedFiles
  for (const [field, value] of Object.entries(rest)) {
    if (value !== undefined) row[field] = value
  }
  return packr.pack(row)
}

/**
 * Decodes an `index.db` row value. Throws a plain Error saying what is wrong when the bytes are not a package
 * index (the caller knows the file and key, and turns it into `ERR_CAS_INDEX_CORRUPT`).
 */
export function decodePackageIndex (data: Uint8Array): PackageIndex {
  const value: unknown = unpackr.unpack(data)
  if (value === null || typeof value !== 'object') throw new Error('the row is not a MessagePack map')
  const row = value as Record<string, unknown>
  if (row.algo !== undefined && row.algo !== 'sha512') throw new Error(`unsupported algo ${String(row.algo)}`)
  return { ...row, algo: 'sha512', files: normalizeFiles(row.files, 'digest') } as PackageIndex
}

/**
 * Turns a decoded `files` value (a Map from msgpackr, a plain object from JSON) into a checked Map. `digestField`
 * is `digest` (hex, v11) or `integrity` (SRI, v10; `toHex` converts it).
 */
export function normalizeFiles (
  files: unknown, digestField: 'digest' | 'integrity', toHex: (value: string) => string = v => v,
): Map<string, FileInfo> {
  // An array would be read as names "0", "1"…: no pnpm writes one.
  if (files === null || typeof files !== 'object' || Array.isArray(files)) throw new Error('it has no files list')
  const out = new Map<string, FileInfo>()
  // The entry is built first and then judged, one object per file: this runs for every file of every index a
  // `cas verify` reads (50,000 in the bench), where a copy of each raw entry to judge it was measurable.
  const add = (raw: unknown, name: unknown): void => {
    const info = raw as Record<string, unknown> | null
    if (info === null || typeof info !== 'object') throw new Error(fileEntryProblem(name, info) ?? 'malformed')
    const digestValue = info[digestField]
    let digest: string | undefined
    try {
      digest = typeof digestValue === 'string' ? toHex(digestValue) : undefined
    } catch {}
    const entry = { digest, mode: info.mode, size: info.size } as FileInfo
    if (info.checkedAt !== undefined) entry.checkedAt = info.checkedAt as number
    const problem = fileEntryProblem(name, entry)
    if (problem !== undefined) throw new Error(problem)
    out.set(name as string, entry)
  }
  if (files instanceof Map) files.forEach(add)
  else for (const name of Object.keys(files)) add((files as Record<string, unknown>)[name], name)
  return out
}
