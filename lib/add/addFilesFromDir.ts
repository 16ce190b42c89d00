import fs from 'node:fs'
import path from 'node:path'
import type { StoreContext } from '../context.js'
import { FileAccessError, FileChangedError, InvalidArgumentError, TooManyEntriesError } from '../errors.js'
import { siblingModule } from '../threads/threadStores.js'
import type { PackageIndex } from '../types.js'
import { errorCode } from '../util/fs.js'
import { reach, type TestHooks } from '../util/hooks.js'
import { completeStep, dropSteps } from '../write/completeStep.js'
import { ensureFile } from '../write/ensureFile.js'
import type { AddedInThread } from './addInThread.js'
import { addPackageMeta } from './addPackageMeta.js'
import { DEFAULT_MAX_ENTRIES, type AddLimits } from './limits.js'
import { openApproved, type Approved } from './openApproved.js'

/**
 * A folder with at least this many files is added by the store's threads (when it has some). Below it, the
 * hand-off (a message each way, a copy of the list) costs more than a second core saves.
 */
export const THREAD_MIN_FILES = 64
/** Files per thread task: big enough that a message costs little per file, small enough to share work evenly. */
const THREAD_CHUNK_FILES = 128
const THREAD_JOBS = siblingModule(import.meta.url, 'addInThread')

/**
 * How many times one real directory is walked when links inside the package reach it under several names. Each
 * name is indexed (as pnpm does) up to this many; past it, further links to it are skipped. Without a bound, a
 * few links per level fan out exponentially (17 files became 262,125 index entries).
 */
export const MAX_DIR_VISITS = 4

/**
 * Adds every regular file under `dir` to the store and returns the package index (names `/`-separated, relative
 * to `dir`; `manifest` and `requiresBuild` filled in from its package.json). Symlinks are followed only when their
 * target stays inside `dir` (a package must not be able to pull `/etc/passwd` into the store); a link back to a
 * directory being walked is skipped, so link cycles end, and one directory is walked at most `MAX_DIR_VISITS`
 * times. More than `options.maxEntries` files (default 200,000) is refused with `ERR_CAS_TOO_MANY_ENTRIES`.
 *
 * Only what the walk approved is read: each file is opened without following links and without blocking (a FIFO
 * swapped in cannot hang it), and the opened descriptor must be the same regular file (device and inode), at the
 * same place (on Linux, /proc/self/fd says where it really is), or the add fails with `ERR_CAS_FILE_CHANGED`.
 */
export async function addFilesFromDir (ctx: StoreContext, dir: string, options: AddLimits = {}): Promise<PackageIndex> {
  let root: string
  try {
    root = fs.realpathSync(dir)
  } catch (err) {
    throw new InvalidArgumentError(`addFilesFromDir: cannot open ${dir} (${errorCode(err) ?? String(err)}); pass an existing directory`)
  }
  if (!fs.statSync(root).isDirectory()) throw new InvalidArgumentError(`addFilesFromDir: ${dir} is not a directory`)
  const files = new Map<string, Approved>()
  const maxEntries = options.maxEntries ?? DEFAULT_MAX_ENTRIES
  const walk: Walk = { root, maxEntries, visits: new Map(), out: files, hooks: ctx.hooks }
  await collect(walk, root, '', new Set([root]))
  await reach(ctx.hooks, 'add:walked', root)
  const index: PackageIndex = { algo: 'sha512', files: new Map() }
  const inThreads = await addInThreads(ctx, [...files.values()])
  if (inThreads !== undefined) await reach(ctx.hooks, 'add:handedOff', root)
  let i = 0
  try {
    for (const [name, approved] of files) {
      const fromThread = inThreads?.[i]
      if (inThreads !== undefined) inThreads[i] = null // its temp is this loop's now: not dropped on failure
      i++
      // A thread's file is finished here (its rename or claim, under this thread's lock). A file a thread could
      // not add, or whose claimed content vanished before the claim, is added here: its error (the file changed,
      // a lock timed out) is then the real one, thrown from this thread.
      let added
      if (fromThread != null && await completeStep(ctx, fromThread.step)) {
        added = fromThread
      } else {
        if (inThreads !== undefined) await reach(ctx.hooks, 'add:redoneHere', approved.realPath)
        added = await addHere(ctx, approved)
      }
      const { digest, size, checkedAt } = added
      index.files.set(name, { digest, mode: added.mode & 0o777, size, checkedAt })
    }
  } catch (err) {
    dropSteps((inThreads ?? []).flatMap(added => added === null ? [] : [added.step]))
    throw err
  }
  return await addPackageMeta(ctx, index)
}

async function addHere (ctx: StoreContext, approved: Approved): Promise<Omit<AddedInThread, 'step'>> {
  const { content, mode } = openApproved(approved)
  const added = await ensureFile(ctx, content, { mode })
  return { digest: added.digest, size: added.size, checkedAt: added.checkedAt, mode }
}

/**
 * The files added by the store's threads, in order (null where a thread failed); undefined when the store has
 * no threads or the folder is too small to be worth them. A task that fails as a whole (its thread died, the
 * store closed) leaves its files to the calling thread.
 */
async function addInThreads (ctx: StoreContext, files: Approved[]): Promise<Array<AddedInThread | null> | undefined> {
  const threads = ctx.threads
  if (threads === undefined || files.length < THREAD_MIN_FILES) return undefined
  const tasks: Array<Promise<Array<AddedInThread | null>>> = []
  for (let from = 0; from < files.length; from += THREAD_CHUNK_FILES) {
    const chunk = files.slice(from, from + THREAD_CHUNK_FILES)
    tasks.push(threads.run<Array<AddedInThread | null>>(THREAD_JOBS, 'addApprovedFiles', { files: chunk })
      .catch(() => chunk.map(() => null)))
  }
  return (await Promise.all(tasks)).flat()
}

interface Walk {
  root: string
  maxEntries: number
  /** Times each real directory has been walked. */
  visits: Map<string, number>
  out: Map<string, Approved>
  hooks: TestHooks | undefined
}

async function collect (walk: Walk, realDir: string, prefix: string, ancestors: Set<string>): Promise<void> {
  for (const entry of readDir(realDir)) {
    const entryPath = path.join(realDir, entry.name)
    const name = prefix === '' ? entry.name : `${prefix}/${entry.name}`
    let realPath = entryPath
    if (entry.isSymbolicLink()) {
      const resolved = resolveInside(walk.root, entryPath)
      if (resolved === undefined) continue
      realPath = resolved
    } else if (!entry.isDirectory() && !entry.isFile()) {
      continue // sockets, fifos, devices: not package content
    }
    // lstat, not stat: `realPath` has no link in it now, so a link found here was swapped in during the walk.
    const stat = lstatFile(realPath)
    if (stat.isSymbolicLink()) throw new FileChangedError(realPath, 'it became a symbolic link')
    if (stat.isDirectory()) {
      // A link back to a directory being walked above us is a cycle; a directory reached again through a sibling
      // link is walked again, as pnpm does, so its names are kept, but only up to MAX_DIR_VISITS times.
      if (ancestors.has(realPath)) continue
      const visits = walk.visits.get(realPath) ?? 0
      if (visits >= MAX_DIR_VISITS) continue
      walk.visits.set(realPath, visits + 1)
      ancestors.add(realPath)
      if (walk.hooks !== undefined) await reach(walk.hooks, 'add:dirApproved', realPath)
      await collect(walk, realPath, name, ancestors)
      ancestors.delete(realPath)
    } else if (stat.isFile()) {
      if (!walk.out.has(name) && walk.out.size >= walk.maxEntries) throw new TooManyEntriesError('folder', walk.maxEntries)
      walk.out.set(name, { realPath, dev: stat.dev, ino: stat.ino })
    }
  }
}

/** The link's real target when it exists and lies inside `root`; undefined for dangling or escaping links. */
function resolveInside (root: string, linkPath: string): string | undefined {
  let target: string
  try {
    target = fs.realpathSync(linkPath)
  } catch {
    return undefined
  }
  const rel = path.relative(root, target)
  if (rel === '' || rel.startsWith('..') || path.isAbsolute(rel)) return undefined
  return target
}

function readDir (dir: string): fs.Dirent[] {
  try {
    return fs.readdirSync(dir, { withFileTypes: true })
  } catch (err) {
    throw new FileAccessError(dir, err as NodeJS.ErrnoException)
  }
}

function lstatFile (file: string): fs.Stats {
  try {
    return fs.lstatSync(file)
  } catch (err) {
    if (errorCode(err) === 'ENOENT') throw new FileChangedError(file, 'it was removed')
    throw new FileAccessError(file, err as NodeJS.ErrnoException)
  }
}
