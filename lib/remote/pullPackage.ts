import type { StoreContext } from '../context.js'
import { IntegrityError, RemoteCorruptError } from '../errors.js'
import { contentPathFor } from '../layout/contentPath.js'
import type { IndexBackend } from '../pkgIndex/backend.js'
import type { FileInfo, PackageIndex } from '../types.js'
import { collectUpTo, upTo } from '../util/bytes.js'
import { SYNC_IO_LIMIT } from '../util/hash.js'
import { probeContent } from '../content/probe.js'
import { claimExisting } from '../write/claimExisting.js'
import { ensureFile } from '../write/ensureFile.js'
import type { RemoteHttp } from './http.js'
import {
  answerAllowance, mergeRanges, MAX_RANGES_PER_REQUEST, rangeHeader, receivedParts, sliceOf, type ByteRange,
} from './byteRanges.js'
import { decodeRemoteIndexDoc, MAX_INDEX_BYTES } from './indexCodec.js'
import { remoteFilePath, remoteIndexPath } from './layout.js'
import { mapPool } from '../util/mapPool.js'
import type { PullOutcome } from './types.js'

/**
 * Read-through of one package: GET its index from the remote, download the content files the local store lacks
 * (the small ones out of the package's pack: the whole pack, or only the byte ranges of the missing files; the
 * others one by one, at most `concurrency` at a time), each written through the store's own writer with its
 * sha512 as the expected digest, so a byte that does not match never reaches a content path; then write the local
 * index to `indexes` (or leave that to the caller: `ensurePackage` writes it itself). The index is written only
 * when every file is in place, so a failure part way leaves no index (the verified files already written are
 * harmless: they are named by their own hash). Throws `ERR_CAS_REMOTE_UNAVAILABLE` when the server
 * fails (down, 5xx, timeout); reports a wrong object as `{ status: 'bad' }`.
 */
export async function pullPackage (
  ctx: StoreContext, indexes: IndexBackend | undefined, http: RemoteHttp, key: string, concurrency: number,
): Promise<PullOutcome> {
  const indexRel = remoteIndexPath(key)
  const before = http.stats.bytesDownloaded
  // Every answer is read up to what it can rightly hold, no further: a server (or a proxy) sending without end
  // must not take a runner's memory, or its disk.
  let raw: Buffer | undefined
  try {
    raw = await http.get(indexRel, async body => await collectUpTo(body, MAX_INDEX_BYTES,
      () => new RemoteCorruptError(http.urlOf(indexRel), `the package index is larger than ${MAX_INDEX_BYTES} bytes`)))
  } catch (err) {
    if (err instanceof RemoteCorruptError) return { status: 'bad', error: err, badFiles: new Set() }
    throw err
  }
  if (raw === undefined) return { status: 'miss' }
  let decoded: ReturnType<typeof decodeRemoteIndexDoc>
  try {
    decoded = decodeRemoteIndexDoc(key, raw)
  } catch (err) {
    return { status: 'bad', error: new RemoteCorruptError(http.urlOf(indexRel), `the package index is unreadable: ${(err as Error).message}`), badFiles: new Set() }
  }
  const { index: remoteIndex, pack } = decoded

  // One download per content path, however many names in the package share it.
  const byPath = new Map<string, FileInfo>()
  for (const info of remoteIndex.files.values()) byPath.set(contentPathFor(ctx.root, info.digest, info.mode), info)
  const checkedAt = new Map<string, number>()
  const lacking: Array<[string, FileInfo]> = []
  await mapPool([...byPath], concurrency, async ([filePath, info]) => {
    if (await haveLocally(ctx, filePath, info)) checkedAt.set(filePath, Date.now())
    else lacking.push([filePath, info])
  })
  let filesDownloaded = 0
  const badFiles = new Set<string>()
  /** Stores bytes the server sent for `info`, refusing them unless they hash to its digest. */
  const store = async (
    content: Buffer | AsyncIterable<Uint8Array>, info: FileInfo, url: string, filePath: string,
  ): Promise<void> => {
    let got
    try {
      got = await ensureFile(ctx, content, { mode: info.mode, digest: info.digest })
    } catch (err) {
      if (err instanceof IntegrityError) {
        badFiles.add(info.digest)
        throw new RemoteCorruptError(url, `its bytes for ${info.digest.slice(0, 16)}… do not hash to its name`, err)
      }
      throw err
    }
    if (got.size !== info.size) {
      throw new RemoteCorruptError(http.urlOf(indexRel), `the package index gives ${info.digest.slice(0, 16)}… a size of ${info.size} bytes; it has ${got.size}`)
    }
    filesDownloaded++
    checkedAt.set(filePath, got.checkedAt)
  }

  // An empty file needs no request: its bytes are known, and a range of no bytes cannot even be asked for (a
  // server answers 416). Packs made before empty files were left out of them still name such files.
  for (const [filePath, info] of lacking) {
    if (info.size !== 0) continue
    try {
      const written = await ensureFile(ctx, Buffer.alloc(0), { mode: info.mode, digest: info.digest })
      checkedAt.set(filePath, written.checkedAt)
    } catch (err) {
      if (!(err instanceof IntegrityError)) throw err
      const detail = `the package index gives ${info.digest.slice(0, 16)}… a size of 0 bytes`
      const error = new RemoteCorruptError(http.urlOf(indexRel), detail, err)
      return { status: 'bad', error, badFiles }
    }
  }
  const wanted = lacking.filter(([, info]) => info.size > 0)
  const packed = pack === undefined ? [] : wanted.filter(([, info]) => pack.offsets.has(info.digest))
  const loose = wanted.filter(entry => !packed.includes(entry))
  const fromPack = async (): Promise<void> => {
    if (pack === undefined || packed.length === 0) return
    const rel = remoteFilePath(pack.digest)
    const wanted = new Map<string, ByteRange>()
    for (const [, info] of packed) {
      const start = pack.offsets.get(info.digest)!
      wanted.set(info.digest, { start, end: start + info.size })
    }
    const wantedBytes = [...wanted.values()].reduce((n, r) => n + r.end - r.start, 0)
    // All of it: one plain GET. Some of it: only those byte ranges (a warm store downloads what it lacks).
    const batches = wantedBytes === pack.size
      ? [undefined]
      : chunk(mergeRanges([...wanted.values()]), MAX_RANGES_PER_REQUEST)
    const parts = (await mapPool(batches, concurrency, async ranges => {
      // A server may answer a range request with the whole pack (200), or in parts with headers of their own.
      const most = pack.size + answerAllowance(ranges?.length ?? 0)
      let answer
      try {
        answer = await http.getBuffer(rel, ranges === undefined ? undefined : rangeHeader(ranges), most)
      } catch (err) {
        if (err instanceof RemoteCorruptError) badFiles.add(pack.digest)
        throw err
      }
      if (answer === undefined) {
        badFiles.add(pack.digest)
        throw new RemoteCorruptError(http.urlOf(indexRel), `the package index names the pack ${rel}, which the server does not have`)
      }
      try {
        return receivedParts(answer.status, answer.contentType, answer.contentRange, answer.body)
      } catch (err) {
        throw new RemoteCorruptError(http.urlOf(rel), (err as Error).message)
      }
    })).flat()
    await mapPool(packed, concurrency, async ([filePath, info]) => {
      const { start, end } = wanted.get(info.digest)!
      const slice = sliceOf(parts, start, end)
      if (slice === undefined) throw new RemoteCorruptError(http.urlOf(rel), `the server did not send bytes ${start}-${end - 1}`)
      try {
        await store(slice, info, http.urlOf(rel), filePath)
      } catch (err) {
        if (err instanceof RemoteCorruptError) badFiles.add(pack.digest)
        throw err
      }
    })
  }
  const oneByOne = async (): Promise<void> => {
    await mapPool(loose, concurrency, async ([filePath, info]) => {
      const rel = remoteFilePath(info.digest)
      const got = await http.get(rel, async (body, size) => {
        const tooMuch = (): Error => {
          // A file longer than its index says is a bad object, wherever it is cut off (collected here, or in the
          // writer's stream): marked so, the write-behind puts the right bytes over it.
          badFiles.add(info.digest)
          return new RemoteCorruptError(http.urlOf(rel), `it sent more than the ${info.size} bytes the package index gives`)
        }
        const content = size !== undefined && size <= SYNC_IO_LIMIT
          ? await collectUpTo(body, info.size, tooMuch)
          : upTo(body, info.size, tooMuch)
        await store(content, info, http.urlOf(rel), filePath)
        return true
      })
      if (got === undefined) {
        badFiles.add(info.digest)
        throw new RemoteCorruptError(http.urlOf(indexRel), `the package index names ${rel}, which the server does not have`)
      }
    })
  }
  const settled = await Promise.allSettled([fromPack(), oneByOne()])
  const failed = settled.find((r): r is PromiseRejectedResult => r.status === 'rejected')
  if (failed !== undefined) {
    if (failed.reason instanceof RemoteCorruptError) return { status: 'bad', error: failed.reason, badFiles }
    throw failed.reason
  }

  const files = new Map<string, FileInfo>()
  for (const [name, info] of remoteIndex.files) {
    files.set(name, { ...info, checkedAt: checkedAt.get(contentPathFor(ctx.root, info.digest, info.mode))! })
  }
  const index: PackageIndex = { ...remoteIndex, files }
  await indexes?.write(key, index)
  return { status: 'pulled', index, filesDownloaded, bytesDownloaded: http.stats.bytesDownloaded - before }
}

/**
 * Whether the local store already holds this file: present, the right bytes (hashed: a local read is far cheaper
 * than a download, and the new index will vouch for the file), and claimed so a prune cannot take it before the
 * index that references it is written.
 */
async function haveLocally (ctx: StoreContext, filePath: string, info: FileInfo): Promise<boolean> {
  // Anything but good (missing, wrong, unreadable) is downloaded; the writer replaces what stands there.
  if ((await probeContent(filePath, info.digest, info.size)).state !== 'good') return false
  return await claimExisting(ctx, filePath, info.digest)
}

function chunk<T> (items: T[], size: number): T[][] {
  const out: T[][] = []
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size))
  return out
}
