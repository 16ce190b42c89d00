import { sriToHex } from '../digest/sri.js'
import { normalizeFiles } from '../pkgIndex/codec.js'
import type { FileInfo, PackageIndex } from '../types.js'

/**
 * Every content file a package index names, with the name to report it under: the package's own files, and the
 * files its cached builds added (pnpm's `sideEffects[<cache key>].added`, reported as
 * `sideEffects[<cache key>]/<file>`). Forgetting the latter would let prune delete a compiled addon that pnpm
 * links from the cache. Throws when `sideEffects` has a shape this library does not know: whoever asks (prune
 * above all) must not guess.
 */
export function * indexContent (index: PackageIndex): Generator<[string, FileInfo]> {
  yield * index.files
  const sideEffects = index.sideEffects
  if (sideEffects === undefined || sideEffects === null) return
  if (typeof sideEffects !== 'object') throw new Error('its sideEffects is not a map')
  const diffs = sideEffects instanceof Map ? [...sideEffects.entries()] : Object.entries(sideEffects)
  for (const [cacheKey, diff] of diffs) {
    if (diff === null || typeof diff !== 'object') throw new Error(`its sideEffects entry ${JSON.stringify(String(cacheKey))} is malformed`)
    const record = (diff instanceof Map ? Object.fromEntries(diff) : diff) as Record<string, unknown>
    // pnpm 10+ keeps { added, deleted }; older stores kept the added files map itself.
    const added = 'added' in record || 'deleted' in record ? record.added : record
    if (added === undefined) continue
    const files = usesIntegrity(added) ? normalizeFiles(added, 'integrity', sriToHex) : normalizeFiles(added, 'digest')
    for (const [name, info] of files) {
      yield [`sideEffects[${String(cacheKey)}]/${name}`, info]
    }
  }
}

/** True when a files map names content by SRI `integrity` (v10 JSON) rather than hex `digest` (v11). */
function usesIntegrity (files: unknown): boolean {
  const first = files instanceof Map ? files.values().next().value : Object.values(files as object)[0]
  return typeof (first as { integrity?: unknown } | undefined)?.integrity === 'string'
}
