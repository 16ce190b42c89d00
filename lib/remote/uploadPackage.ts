import type { StoreContext } from '../context.js'
import { LocalFileMissingError } from '../errors.js'
import { contentPathFor } from '../layout/contentPath.js'
import type { PackageIndex } from '../types.js'
import { reach } from '../util/hooks.js'
import { PRIORITY_UPLOAD, type RemoteHttp } from './http.js'
import { encodeRemoteIndex } from './indexCodec.js'
import { remoteFilePath, remoteIndexPath } from './layout.js'
import { openLocalBlob } from './localBlob.js'
import { mapPool } from './pool.js'

/** Options of {@link uploadPackage}. */
export interface UploadOptions {
  /** Files at most this many at a time for this package. */
  concurrency: number
  /** HEAD the index first and stop if the server has it (`cas push`: the server's index implies its files). */
  skipIfIndexed?: boolean
  /** Digests to PUT even if the server has them (they were found corrupt there): the upload repairs the remote. */
  overwrite?: ReadonlySet<string>
  priority?: number
}

/** What one package's upload did. */
export interface UploadResult {
  /** False when the server already had the package's index (with `skipIfIndexed`). */
  uploaded: boolean
  filesUploaded: number
  filesSkipped: number
  bytesUploaded: number
}

/**
 * Uploads one package: every content file the server lacks (HEAD, then PUT), and only once all of them are on the
 * server, the index. The order is what lets a reader trust an index: a process killed (or a server failing) part
 * way leaves content files and no index, never an index whose files are not there. Each file is read from the
 * local store and checked against its name as it is sent (see `openLocalBlob`).
 */
export async function uploadPackage (
  ctx: StoreContext, http: RemoteHttp, key: string, index: PackageIndex, options: UploadOptions,
): Promise<UploadResult> {
  const priority = options.priority ?? PRIORITY_UPLOAD
  const indexRel = remoteIndexPath(key)
  const result: UploadResult = { uploaded: false, filesUploaded: 0, filesSkipped: 0, bytesUploaded: 0 }
  if (options.skipIfIndexed === true && await http.head(indexRel, priority)) return result

  const byDigest = new Map<string, { filePath: string, size: number }>()
  for (const info of index.files.values()) {
    if (!byDigest.has(info.digest)) byDigest.set(info.digest, { filePath: contentPathFor(ctx.root, info.digest, info.mode), size: info.size })
  }
  await mapPool([...byDigest], options.concurrency, async ([digest, { filePath, size }]) => {
    const rel = remoteFilePath(digest)
    if (options.overwrite?.has(digest) !== true && await http.head(rel, priority)) {
      result.filesSkipped++
      return
    }
    const blob = await openLocalBlob(filePath, digest, size)
    if (blob === undefined) throw new LocalFileMissingError(filePath)
    await http.put(rel, blob.body, blob.size, priority)
    result.filesUploaded++
    result.bytesUploaded += blob.size
    await reach(ctx.hooks, 'remote:fileUploaded', http.urlOf(rel))
  })
  await reach(ctx.hooks, 'remote:filesUploaded', http.urlOf(indexRel))
  const body = encodeRemoteIndex(key, index)
  await http.put(indexRel, body, body.length, priority)
  result.uploaded = true
  return result
}
