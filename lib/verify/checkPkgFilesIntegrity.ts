import os from 'node:os'
import type { StoreContext } from '../context.js'
import { assertDigestHex } from '../digest/sri.js'
import { InvalidArgumentError } from '../errors.js'
import { contentPathFor } from '../layout/contentPath.js'
import type { CheckOptions, FileInfo, IntegrityResult, PackageIndexInput } from '../types.js'
import { checkFiles, type FileToCheck } from './checkFiles.js'

/**
 * Checks that every file of a package index is in the store with the right content (`checkFiles`: one stat per
 * file, the files to re-hash hashed lock-free on the store's threads when there are enough of them, and every file
 * not proven good judged by `checkFile` on this thread, one after another, so this call never holds more than one
 * path lock at a time).
 *
 * Side effect, on purpose: a file whose content was re-read and found good gets its `checkedAt` renewed in the
 * given index (in place), so a caller that saves the index back turns the next check into the stat-only fast path.
 */
export async function checkPkgFilesIntegrity (
  ctx: StoreContext, index: PackageIndexInput, options: CheckOptions = {},
): Promise<IntegrityResult> {
  if (index == null || index.files == null || typeof index.files !== 'object') {
    throw new InvalidArgumentError('checkPkgFilesIntegrity: the index must have a `files` Map or object')
  }
  if (index.algo !== undefined && index.algo !== 'sha512') {
    throw new InvalidArgumentError(`checkPkgFilesIntegrity: unsupported algo ${JSON.stringify(index.algo)}; only sha512`)
  }
  const { verifiedFiles } = options
  const result: IntegrityResult = { passed: true, missing: [], corrupt: [], removed: [] }
  const entries: Iterable<[string, FileInfo]> = index.files instanceof Map
    ? index.files.entries()
    : Object.entries(index.files)
  const names: string[] = []
  const infos: FileInfo[] = []
  const files: FileToCheck[] = []
  for (const [name, info] of entries) {
    const digest = assertDigestHex(info?.digest)
    if (!Number.isSafeInteger(info.size) || info.size < 0 || !Number.isInteger(info.mode) || info.mode < 0) {
      throw new InvalidArgumentError(`checkPkgFilesIntegrity: ${JSON.stringify(name)} needs a non-negative integer size and mode`)
    }
    const filePath = contentPathFor(ctx.root, digest, info.mode)
    if (verifiedFiles?.has(filePath) === true) continue
    names.push(name)
    infos.push(info)
    files.push({ path: filePath, digest, size: info.size, checkedAt: info.checkedAt })
  }
  // This thread hashes beside the store's threads, and has nothing else to do meanwhile: at most one thread per
  // core but this thread's, so no core runs two hashers. Measured on 2 cores, 12,000 files re-hashed (median of
  // 15): 152 ms with one thread against 184 ms with two. (A whole-store scan keeps them all: its calling thread
  // also reads indexes and stats files, see `maint/verifyStore.ts`.)
  const threadCount = Math.max(1, os.availableParallelism() - 1) // checkFiles caps it at the store's threads
  const verdicts = await checkFiles(ctx, files, {}, { threads: true, threadCount })
  for (let i = 0; i < verdicts.length; i++) {
    const verdict = verdicts[i]!
    const name = names[i]!
    if (verdict.status === 'good') {
      if (verdict.rehashed) infos[i]!.checkedAt = Date.now()
      verifiedFiles?.add(files[i]!.path)
      continue
    }
    result.passed = false
    if (verdict.status === 'missing') {
      result.missing.push(name)
    } else {
      result.corrupt.push(name)
      if (verdict.removed) result.removed.push(name)
    }
  }
  return result
}
