import fs from 'node:fs'
import { FileAccessError, MissingContentError, NameCollisionError } from '../errors.js'
import { isExecutable, storedMode } from '../layout/contentPath.js'
import { errorCode, isFdExhaustion, statOrUndefined } from '../util/fs.js'
import { mapPool } from '../util/mapPool.js'
import type { ImportMethod, MethodLadder } from './importMethod.js'
import { isLargeCopy, materializeFileAsync, materializeFileSync } from './materializeFile.js'
import type { PackageFile } from './packageFiles.js'

/** Large copies in flight at once per import: enough to overlap I/O, few enough to bound descriptors and memory. */
const LARGE_COPY_CONCURRENCY = 4

/**
 * Fills `stage` (a fresh, empty folder this import made) with the package: its folders, then every file by the
 * ladder's method. Returns the method the files were imported by.
 *
 * - A capability failure (EXDEV, ENOTSUP…) steps the ladder down and retries that file; it is remembered, so
 *   only the first file of the first package on a device ever pays for the probe.
 * - A store file that vanished since the check (another process's `cas verify --fix` removed it) is collected,
 *   and the import ends with `ERR_CAS_MISSING_CONTENT` naming every such file, never a raw ENOENT.
 * - Small files go synchronously, one syscall or two each, without a promise; large copies, EMFILE and EMLINK
 *   go through graceful-fs, a few at a time (never one promise per file).
 */
export async function fillStage (
  stage: string, dirs: string[], files: PackageFile[], ladder: MethodLadder,
): Promise<ImportMethod> {
  const prefix = stage + '/'
  for (const dir of dirs) makeFolder(prefix, dir)
  const missing: string[] = []
  const later: PackageFile[] = []
  for (const file of files) {
    if (isLargeCopy(methodFor(file, ladder.current), file.info.size)) later.push(file)
    else if (!importSync(prefix + file.name, file, ladder, missing)) later.push(file)
  }
  // mapPool waits for every copy under way before it throws the first failure: an import must not be over (nor its
  // store closed, which waits for it, and its owner record released) while a copy still writes into its folder.
  await mapPool(later, LARGE_COPY_CONCURRENCY, async file => { await importAsync(prefix, file, ladder, missing) })
  if (missing.length > 0) throw new MissingContentError(missing)
  return ladder.current
}

/** One of the package's folders (`name`), in the fresh stage (its parent made just before): any failure is coded. */
function makeFolder (prefix: string, name: string): void {
  try {
    fs.mkdirSync(prefix + name)
  } catch (err) {
    // EEXIST cannot happen in a fresh folder with unique names, except on a file system that ignores case.
    if (errorCode(err) === 'EEXIST') {
      throw new NameCollisionError([name],
        'another folder of the package has this name in another case, and this file system ignores case')
    }
    throw new FileAccessError(prefix + name, err as NodeJS.ErrnoException) // ENAMETOOLONG, ENOSPC, EDQUOT…
  }
}

/** The chmod a clone or copy needs, or undefined when the store file's own mode (which they carry) is right. */
function modeToSet (file: PackageFile): number | undefined {
  const wanted = storedMode(file.info.mode)
  return file.storeMode === wanted ? undefined : wanted
}

/**
 * The method for this file: the ladder's, except that an executable whose store file has lost its execute bits (a
 * store restored from a cache without permissions) is copied rather than hard-linked. A link shares the store
 * file's inode, so its mode too, and the installed bin would not run; a copy is given the file's mode. The store
 * file itself is left as it is (its mode may be the store owner's choice, as with a strict umask). Executables the
 * check did not stat (verified by an earlier import) are stat'ed here: a package has few.
 */
function methodFor (file: PackageFile, method: ImportMethod): ImportMethod {
  if (method !== 'hardlink' || !isExecutable(file.info.mode)) return method
  const mode = file.storeMode ?? statOrUndefined(file.src)?.mode
  return mode !== undefined && (mode & 0o111) === 0 ? 'copy' : method
}

/** Imports one file synchronously; false when it must be retried asynchronously (EMFILE, EMLINK). */
function importSync (dest: string, file: PackageFile, ladder: MethodLadder, missing: string[]): boolean {
  for (;;) {
    const method = ladder.current
    const use = methodFor(file, method)
    try {
      materializeFileSync(use, file.src, dest, use === method ? modeToSet(file) : storedMode(file.info.mode))
      return true
    } catch (err) {
      // A capability failure of the ladder's own method steps it down (ERR_CAS_IMPORT_METHOD when no step is left).
      if (use === method && ladder.stepDown(method, err)) continue
      if (isFdExhaustion(err) || (errorCode(err) === 'EMLINK' && use === 'hardlink')) return false
      handleFileError(err, dest, file, missing)
      return true
    }
  }
}

async function importAsync (prefix: string, file: PackageFile, ladder: MethodLadder, missing: string[]): Promise<void> {
  const dest = prefix + file.name
  for (;;) {
    const method = ladder.current
    const use = methodFor(file, method)
    try {
      await materializeFileAsync(use, file.src, dest, use === method ? modeToSet(file) : storedMode(file.info.mode))
      return
    } catch (err) {
      if (use === method && ladder.stepDown(method, err)) continue
      if (errorCode(err) === 'EMLINK' && use === 'hardlink') {
        // This store file is at the file system's link limit (65,000 on ext4): copy just this one.
        await materializeFileAsync('copy', file.src, dest, storedMode(file.info.mode))
        return
      }
      handleFileError(err, dest, file, missing)
      return
    }
  }
}

/** ENOENT of the source: content removed under us (collected). EEXIST: a case-insensitive collision. Else: thrown. */
function handleFileError (err: unknown, dest: string, file: PackageFile, missing: string[]): void {
  const code = errorCode(err)
  if (code === 'ENOENT' && statOrUndefined(file.src) === undefined) {
    missing.push(file.name)
    return
  }
  if (code === 'EEXIST') {
    // Our folder is fresh and names are unique, so only a file system that ignores case can cause this.
    throw new NameCollisionError([file.name],
      'another file of the package has this name in another case, and this file system ignores case')
  }
  throw new FileAccessError(dest, err as NodeJS.ErrnoException)
}
