import fs from 'node:fs'
import path from 'node:path'
import ssri from 'ssri'
import { FileAccessError, IndexCorruptError, IndexReadOnlyError, InvalidArgumentError } from '../errors.js'
import { sriToHex } from '../digest/sri.js'
import type { PackageIndex } from '../types.js'
import { errorCode } from '../util/fs.js'
import type { IndexBackend, PackageIndexEntry } from './backend.js'
import { normalizeFiles } from './codec.js'
import { parsePackageIndexKey } from './key.js'

/** Folder of pnpm 10's JSON package indexes inside a v10 store root. */
export const V10_INDEX_DIR = 'index'

const RELATIVE_KEY = /^index\/[0-9a-f]{2}\/[^/\\]+\.json$/

/**
 * Where pnpm 10 keeps the index of a package: `index/<hex[0..2]>/<hex[2..64]>-<pkgId>.json`, hex being the
 * tarball integrity's digest (first 64 characters), each of `\ / : * ? " < > |` in pkgId made `+` so any pkgId
 * (git URLs, `file:` paths) is one valid file name on every OS.
 */
export function v10IndexFile (integrity: string, pkgId: string): string {
  const parsed = ssri.parse(integrity, { single: true }) as ssri.Hash | null
  if (parsed == null) throw new InvalidArgumentError(`Not an SRI integrity: ${JSON.stringify(integrity)}`)
  const hex = Buffer.from(parsed.digest, 'base64').toString('hex').slice(0, 64)
  return `${V10_INDEX_DIR}/${hex.slice(0, 2)}/${hex.slice(2)}-${pkgId.replace(/[\\/:*?"<>|]/g, '+')}.json`
}

/**
 * pnpm 10's package indexes, one JSON file each: read and deleted here, never written (cas-store writes the v11
 * format). A file that is not valid JSON, or not an index, is reported for itself and never stops a scan.
 */
export class V10Index implements IndexBackend {
  readonly format = 'v10'
  readonly path: string
  readonly #root: string

  constructor (root: string) {
    this.#root = root
    this.path = path.join(root, V10_INDEX_DIR)
  }

  async read (key: string): Promise<PackageIndex | undefined> {
    const file = this.#fileOf(key)
    let text: string
    try {
      text = await fs.promises.readFile(file, 'utf8')
    } catch (err) {
      if (errorCode(err) === 'ENOENT') return undefined
      throw new FileAccessError(file, err as NodeJS.ErrnoException)
    }
    return parseV10Index(file, text)
  }

  async write (): Promise<void> {
    throw new IndexReadOnlyError(this.#root)
  }

  async delete (key: string, revision?: string): Promise<boolean> {
    const file = this.#fileOf(key)
    try {
      // pnpm 10 rewrites an index file whole (a new inode by rename), so the inode, size and mtime name a version.
      if (revision !== undefined && revisionOf(await fs.promises.stat(file)) !== revision) return false
      await fs.promises.unlink(file)
      return true
    } catch (err) {
      if (errorCode(err) === 'ENOENT') return false
      throw new FileAccessError(file, err as NodeJS.ErrnoException)
    }
  }

  async * list (): AsyncGenerator<PackageIndexEntry> {
    for (const bucket of await readDirOrEmpty(this.path)) {
      if (!/^[0-9a-f]{2}$/.test(bucket)) continue
      for (const name of await readDirOrEmpty(path.join(this.path, bucket))) {
        if (!name.endsWith('.json')) continue
        const key = `${V10_INDEX_DIR}/${bucket}/${name}`
        const stat = await fs.promises.stat(path.join(this.#root, key)).catch(() => undefined)
        if (stat === undefined) continue
        try {
          const index = await this.read(key)
          if (index !== undefined) yield { key, index, revision: revisionOf(stat) }
        } catch (err) {
          if (!(err instanceof IndexCorruptError)) throw err
          yield { key, error: err, revision: revisionOf(stat) }
        }
      }
    }
  }

  async count (): Promise<number | undefined> {
    return undefined // would take a walk of the whole index folder
  }

  async close (): Promise<void> {}

  #fileOf (key: string): string {
    const relative = RELATIVE_KEY.test(key)
      ? key
      : (() => {
          const { integrity, pkgId } = parsePackageIndexKey(key)
          return v10IndexFile(integrity, pkgId)
        })()
    return path.join(this.#root, relative)
  }
}

/** Parses one v10 JSON index; `ERR_CAS_INDEX_CORRUPT` naming the file when it is truncated or not an index. */
export function parseV10Index (file: string, text: string): PackageIndex {
  let json: unknown
  try {
    json = JSON.parse(text)
  } catch (err) {
    throw new IndexCorruptError(file, `not valid JSON (${(err as Error).message})`, { cause: err, scope: 'one-index' })
  }
  if (json === null || typeof json !== 'object' || Array.isArray(json)) {
    throw new IndexCorruptError(file, 'not a JSON object', { scope: 'one-index' })
  }
  const { files, ...rest } = json as Record<string, unknown>
  try {
    return { ...rest, algo: 'sha512', files: normalizeFiles(files, 'integrity', sriToHex) }
  } catch (err) {
    throw new IndexCorruptError(file, (err as Error).message, { cause: err, scope: 'one-index' })
  }
}

async function readDirOrEmpty (dir: string): Promise<string[]> {
  try {
    return (await fs.promises.readdir(dir)).sort()
  } catch (err) {
    if (errorCode(err) === 'ENOENT') return []
    throw new FileAccessError(dir, err as NodeJS.ErrnoException)
  }
}

function revisionOf (stat: fs.Stats): string {
  return `${stat.ino}:${stat.size}:${stat.mtimeMs}`
}
