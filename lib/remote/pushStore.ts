import { CasError, RemoteUnavailableError } from '../errors.js'
import type { IndexBackend } from '../pkgIndex/backend.js'
import type { RemoteTier } from './remoteTier.js'
import { mapPool } from '../util/mapPool.js'
import type { PushOptions, PushReport } from './types.js'

/** Packages uploaded at once by `cas push`. */
const PACKAGES_AT_ONCE = 4

/**
 * Uploads everything the local store holds that the remote lacks: each package whose index is not on the server
 * yet, files first and index last (see `uploadPackage`). A package whose local files are missing or wrong is
 * reported in `problems` and skipped (its index is never uploaded); a failing server stops the push with
 * `ERR_CAS_REMOTE_UNAVAILABLE`. Running it again resumes where it stopped.
 */
export async function pushStore (
  indexes: IndexBackend, tier: RemoteTier, options: PushOptions = {},
): Promise<PushReport> {
  const report: PushReport = {
    packagesUploaded: 0, packagesSkipped: 0, filesUploaded: 0, filesSkipped: 0, bytesUploaded: 0, problems: [],
  }
  const total = await indexes.count()
  let done = 0
  let batch: Array<{ key: string, index: NonNullable<Awaited<ReturnType<IndexBackend['read']>>> }> = []
  const flush = async (): Promise<void> => {
    await mapPool(batch, PACKAGES_AT_ONCE, async ({ key, index }) => {
      try {
        const result = await tier.upload(key, index, true)
        if (result.uploaded) report.packagesUploaded++
        else report.packagesSkipped++
        report.filesUploaded += result.filesUploaded
        report.filesSkipped += result.filesSkipped
        report.bytesUploaded += result.bytesUploaded
      } catch (err) {
        if (err instanceof RemoteUnavailableError || !(err instanceof CasError)) throw err
        report.problems.push({ key, code: err.code, message: err.message })
      }
      done++
      options.onProgress?.({ packagesDone: done, packagesTotal: total, bytesUploaded: report.bytesUploaded })
    })
    batch = []
  }
  for await (const entry of indexes.list()) {
    if (options.signal?.aborted === true) break
    if (entry.index === undefined) {
      report.problems.push({ key: entry.key, code: entry.error?.code ?? 'ERR_CAS_INDEX_CORRUPT', message: entry.error?.message ?? 'unreadable' })
      continue
    }
    batch.push({ key: entry.key, index: entry.index })
    if (batch.length >= 64) await flush()
  }
  if (options.signal?.aborted !== true) await flush()
  return report
}
