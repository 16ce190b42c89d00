import fs from 'node:fs'
import path from 'node:path'
import type { StoreContext } from '../context.js'
import { FileAccessError, InvalidArgumentError } from '../errors.js'
import type { FileInfo, PackageIndex } from '../types.js'
import { errorCode } from '../util/fs.js'
import { reach } from '../util/hooks.js'
import { checkNames, foldersOf } from './checkNames.js'
import { completeTargetDevice, isCompleteTarget, witnessOf } from './completeTarget.js'
import { fillStage } from './fillStage.js'
import { IMPORT_METHOD_OPTIONS, MethodLadder, type ImportMethod, type ImportMethodOption } from './importMethod.js'
import { packageFiles } from './packageFiles.js'
import { placeDir } from './placeDir.js'
import { asidePathOf, stagePathFor } from './stageNames.js'
import { verifyFiles } from './verifyFiles.js'

/** Options of {@link importPackage}. */
export interface ImportPackageOptions {
  /**
   * `auto` (default): clone, else hard link, else copy, learning once per store and target device what works.
   * `clone-or-copy`: never a hard link. `clone`, `hardlink`, `copy`: that method only (`ERR_CAS_IMPORT_METHOD`
   * when it cannot work here). A package with build scripts (`index.requiresBuild`) is never hard-linked.
   */
  method?: ImportMethodOption
  /** Replace a complete target too (default: a complete target is kept as it is). */
  force?: boolean
  /** Content paths verified during this install, shared with `checkPkgFilesIntegrity`: each is checked once. */
  verifiedFiles?: Set<string>
}

/** Result of {@link importPackage}. */
export interface ImportPackageResult {
  /** How the files were (or, when `imported` is false, would have been) put in place. */
  method: ImportMethod
  /** False when a complete target was already there and was kept. */
  imported: boolean
}

/**
 * Materializes a package from the store at `targetDir` (e.g. `node_modules/.pnpm/x@1/node_modules/x`).
 *
 * 1. Every name is checked before anything is written (`ERR_CAS_UNSAFE_PATH`, `ERR_CAS_NAME_COLLISION`).
 * 2. A complete target is kept (unless `force`): one witness file, hashed, decides.
 * 3. The package is verified (the verifier's fast path, sharing `verifiedFiles`); a missing or corrupt file is
 *    `ERR_CAS_MISSING_CONTENT` with the file names, and nothing is written.
 * 4. It is built in a temp folder next to the target that belongs to this call alone, then renamed into place
 *    (`placeDir`): a reader sees no folder or a complete one, even if this process is killed at any point; a
 *    failure removes the temp folder, and a file removed from the store meanwhile fails the import the same way.
 *    The folder's path is in the store's import journal from before it exists until it is gone, so a cleaner
 *    (`cas verify --fix`, `cas prune`) removes what a killed import leaves (see `lock/importJournal.ts`).
 */
export async function importPackage (
  ctx: StoreContext, index: PackageIndex, targetDir: string, options: ImportPackageOptions = {},
): Promise<ImportPackageResult> {
  const requested = options.method ?? 'auto'
  if (!IMPORT_METHOD_OPTIONS.includes(requested)) {
    throw new InvalidArgumentError(
      `importPackage: method must be one of ${IMPORT_METHOD_OPTIONS.join(', ')}; got ${JSON.stringify(requested)}`)
  }
  if (typeof targetDir !== 'string' || targetDir === '') {
    throw new InvalidArgumentError('importPackage: targetDir must be a non-empty path')
  }
  const files = filesOf(index)
  checkNames(files.keys())
  const target = path.resolve(targetDir)
  const witness = witnessOf(files)
  const force = options.force === true
  const requiresBuild = index.requiresBuild === true

  if (!force) {
    const device = await completeTargetDevice(target, witness)
    if (device !== undefined) {
      return { method: MethodLadder.peek(ctx.root, device, requested, requiresBuild), imported: false }
    }
  }

  const dirs = foldersOf(files.keys())
  const list = packageFiles(ctx.root, files)
  await verifyFiles(ctx, list, options.verifiedFiles)

  const stage = stagePathFor(target)
  const journal = ctx.importJournal
  if (journal !== undefined && !journal.ready) await journal.open()
  journal?.begin(stage) // before the folder exists: from here on, a killed import leaves it named
  let leftover = false
  try {
    makeStage(stage, target)
    let placed = false
    try {
      const ladder = new MethodLadder(ctx.root, fs.statSync(stage).dev, requested, requiresBuild)
      await reach(ctx.hooks, 'import:staged', stage)
      const method = await fillStage(stage, dirs, list, ladder)
      placed = true // placeDir owns the temp folder from here: it removes it on every way out
      const isComplete = async (): Promise<boolean> => await isCompleteTarget(target, witness)
      const imported = await placeDir(stage, target, force, isComplete, () => { leftover = true })
      return { method, imported }
    } finally {
      if (!placed) fs.rmSync(stage, { recursive: true, force: true })
    }
  } catch (err) {
    // A failed import removed its folders, unless that failed too: then the journal must keep naming them.
    leftover ||= exists(stage) || exists(asidePathOf(stage))
    throw err
  } finally {
    journal?.end(leftover)
  }
}

/** Whether `folder` may still be there (an lstat that fails for another reason than its absence says maybe). */
function exists (folder: string): boolean {
  try {
    return fs.lstatSync(folder, { throwIfNoEntry: false }) !== undefined
  } catch (err) {
    return errorCode(err) !== 'ENOTDIR'
  }
}

/** The index's files as a Map, validated enough that nothing malformed reaches a path. */
function filesOf (index: PackageIndex): Map<string, FileInfo> {
  const files = index?.files as unknown
  if (files instanceof Map) return files as Map<string, FileInfo>
  if (files !== null && typeof files === 'object') return new Map(Object.entries(files as Record<string, FileInfo>))
  throw new InvalidArgumentError(
    'importPackage: the index must have a `files` Map (from readPackageIndex or an add verb)')
}

/** Makes this call's temp folder `stage` next to the target (creating the target's parents on first use). */
function makeStage (stage: string, target: string): void {
  try {
    try {
      fs.mkdirSync(stage)
    } catch (err) {
      if (errorCode(err) !== 'ENOENT') throw err
      // The target's folder is missing (a first package of a scope): made here. A parent that is a dangling link,
      // or removed again by someone else meanwhile, fails below like any other folder this import cannot make.
      fs.mkdirSync(path.dirname(target), { recursive: true })
      fs.mkdirSync(stage)
    }
  } catch (err) {
    throw new FileAccessError(stage, err as NodeJS.ErrnoException)
  }
}
