import type { StoreContext } from '../context.js'
import { LocalFileMissingError } from '../errors.js'
import { contentPathFor } from '../layout/contentPath.js'
import type { PackageIndex } from '../types.js'
import { reach } from '../util/hooks.js'
import { PRIORITY_UPLOAD, type RemoteHttp } from './http.js'
import { encodeRemoteIndex, type RemotePack } from './indexCodec.js'
import { planPack } from './packPlan.js'
import { sha512Hex } from '../util/hash.js'
import { remoteFilePath, remoteIndexPath } from './layout.js'
import { openLocalBlob } from './localBlob.js'
import { mapPool } from '../util/mapPool.js'
import type { UploadResult } from './types.js'

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

/**
 * Uploads one package: every content file the server lacks (HEAD, then PUT; the small ones together as the
 * package's pack, see `packPlan.ts`), and only once all of them are on the server, the index. The order is what
 * lets a reader trust an index: a process killed (or a server failing) part way leaves content files and no
 * index, never an index whose files are not there. Each file is read from the
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
    if (byDigest.has(info.digest)) continue
    byDigest.set(info.digest, { filePath: contentPathFor(ctx.root, info.digest, info.mode), size: info.size })
  }
  const plan = planPack(index.files.values())
  const loose = [...byDigest].filter(([digest]) => plan?.offsets.has(digest) !== true)
  let pack: RemotePack | undefined
  const putPack = async (): Promise<void> => {
    if (plan === undefined) return
    const pieces: Buffer[] = []
    for (const { digest, size } of plan.members) {
      const blob = await openLocalBlob(byDigest.get(digest)!.filePath, digest, size)
      if (blob === undefined) throw new LocalFileMissingError(byDigest.get(digest)!.filePath)
      pieces.push(blob.body as Buffer) // members are small: openLocalBlob read and checked them in memory
    }
    const bytes = Buffer.concat(pieces)
    pack = { digest: sha512Hex(bytes), size: bytes.length, offsets: plan.offsets }
    const rel = remoteFilePath(pack.digest)
    const overwrite = options.overwrite ?? new Set<string>()
    const repair = overwrite.has(pack.digest) || plan.members.some(m => overwrite.has(m.digest))
    if (!repair && await http.head(rel, priority)) {
      result.filesSkipped += plan.members.length
      return
    }
    await http.put(rel, bytes, bytes.length, priority)
    result.filesUploaded += plan.members.length
    result.bytesUploaded += bytes.length
    await reach(ctx.hooks, 'remote:fileUploaded', http.urlOf(rel))
  }
  const putLoose = mapPool(loose, options.concurrency, async ([digest, { filePath, size }]) => {
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
  const settled = await Promise.allSettled([putLoose, putPack()])
  const failed = settled.find((r): r is PromiseRejectedResult => r.status === 'rejected')
  if (failed !== undefined) throw failed.reason
  await reach(ctx.hooks, 'remote:filesUploaded', http.urlOf(indexRel))
  const body = encodeRemoteIndex(key, index, pack)
  await http.put(indexRel, body, body.length, priority)
  result.uploaded = true
  return result
}
