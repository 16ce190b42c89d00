import fs from 'node:fs'
import path from 'node:path'
import { FileAccessError, MissingContentError, NameCollisionError } from '../errors.js'
import { errorCode, isFdExhaustion, statOrUndefined } from '../util/fs.js'
import type { ImportMethod, MethodLadder } from './importMethod.js'
import { isLargeCopy, materializeFileAsync, materializeFileSync } from './materializeFile.js'

/** One file to put in the package folder: its name in the package, its content path in the store, its mode. */
export interface StagedFile {
  name: string
  src: string
  mode: number
  size: number
}

/** Large copies in flight at once per import: enough to overlap I/O, few enough to bound descriptors and memory. */
const LARGE_COPY_CONCURRENCY = 4

/**
 * Fills `stage` (a fresh, empty folder this import made) with the package: its folders, then every file by the
 * ladder's method. Returns the method the files were imported by.
 *
 * - A capability failure (EXDEV, ENOTSUP…) steps the ladder down and retries that file; it is remembered, so
 *   only the first file of the first package ever pays for the probe.
 * - A store file that vanished (another process's `cas verify --fix` removed it after our check) is collected,
 *   and the import ends with `ERR_CAS_MISSING_CONTENT` naming every such file, rather than a raw ENOENT.
 * - EMLINK (a store file at the file system's link limit) copies that one file.
 * - Small files go synchronously; large copies through graceful-fs, a few at a time, never one promise per file.
 */
export async function fillStage (stage: string, dirs: string[], files: StagedFile[], ladder: MethodLadder): Promise<ImportMethod> {
  for (const dir of dirs) fs.mkdirSync(path.join(stage, dir))
  const missing: string[] = []
  const large: StagedFile[] = []
  for (const file of files) {
    if (isLargeCopy(ladder.current, file.size)) {
      large.push(file)
      continue
    }
    await importOne(stage, file, ladder, missing, false)
  }
  let next = 0
  await Promise.all(Array.from({ length: Math.min(LARGE_COPY_CONCURRENCY, large.length) }, async () => {
    while (next < large.length) await importOne(stage, large[next++]!, ladder, missing, true)
  }))
  if (missing.length > 0) throw new MissingContentError(missing)
  return ladder.current
}

async function importOne (stage: string, file: StagedFile, ladder: MethodLadder, missing: string[], async: boolean): Promise<void> {
  const dest = path.join(stage, file.name)
  for (;;) {
    const method = ladder.current
    try {
      if (async) await materializeFileAsync(method, file.src, dest, file.mode)
      else materializeFileSync(method, file.src, dest, file.mode)
      ladder.worked(method)
      return
    } catch (err) {
      const code = errorCode(err)
      if (code === 'ENOENT' && statOrUndefined(file.src) === undefined) {
        missing.push(file.name)
        return
      }
      if (ladder.stepDown(method, err)) continue // throws ERR_CAS_IMPORT_METHOD when no step is left
      if (isFdExhaustion(err) && !async) {
        // Out of descriptors (a copy opens two): graceful-fs queues until one is free.
        async = true
        continue
      }
      if (code === 'EMLINK' && method === 'hardlink') {
        await materializeFileAsync('copy', file.src, dest, file.mode)
        return
      }
      if (code === 'EEXIST') {
        // Our folder is fresh and names are unique, so only a case-insensitive file system can cause this.
        const other = fs.readdirSync(path.dirname(dest)).find(n => n.toLowerCase() === path.basename(dest).toLowerCase())
        throw new NameCollisionError([file.name, path.posix.join(path.posix.dirname(file.name), other ?? '?')],
          'they differ only in case, and this file system ignores case')
      }
      throw new FileAccessError(dest, err as NodeJS.ErrnoException)
    }
  }
}
