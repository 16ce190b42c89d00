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
import type { AddedInThread } from './addDirInThread.js'
import { addPackageMeta } from './addPackageMeta.js'
import { DEFAULT_MAX_ENTRIES, type AddLimits } from './limits.js'
import { openApproved, type Approved } from './openApproved.js'

/**
 * A folder with at least this many files is added by the store's threads (when it has some). Below it, the
 * hand-off (a message each way, a copy of the list) costs more than a second core saves.
 */
export const THREAD_MIN_FILES = 64
/**
 * Tasks per thread a folder is split into: two, so a thread that finishes early takes a second share, and the
 * calling thread renames the first shares while the threads still work on the rest. Small tasks cost more
 * (measured: 128-file tasks took 1.6x the CPU of 6,000-file ones, in messages and interleaving).
 */
const TASKS_PER_THREAD = 2
const THREAD_JOBS = siblingModule(import.meta.url, 'addDirInThread')

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
  // Threads boot (and load the task's module) while the folder is walked; harmless if it turns out small.
  ctx.threads?.prepare(THREAD_JOBS)
  const files = new Map<string, Approved>()
  const maxEntries = options.maxEntries ?? DEFAULT_MAX_ENTRIES
  const walk: Walk = { root, maxEntries, visits: new Map(), out: files, hooks: ctx.hooks }
  await collect(walk, root, '', new Set([root]))
  await reach(ctx.hooks, 'add:walked', root)
  const index: PackageIndex = { algo: 'sha512', files: new Map() }
  const tasks = inThreads(ctx, [...files.values()])
  let i = 0
  try {
    for (const [name, approved] of files) {
      // A thread's file is finished here (its rename or claim, under this thread's lock), as soon as its task is
      // done. A file a thread could not add, or whose claimed content vanished before the claim, is added here:
      // its error (the file changed, a lock timed out) is then the real one, thrown from this thread.
      const fromThread = tasks === undefined ? undefined : await tasks.take(i)
      if (i === 0 && tasks !== undefined) await reach(ctx.hooks, 'add:handedOff', root)
      i++
      let added
      if (fromThread != null && await completeStep(ctx, fromThread.step)) {
        added = fromThread
      } else {
        if (tasks !== undefined) await reach(ctx.hooks, 'add:redoneHere', approved.realPath)
        added = await addHere(ctx, approved)
      }
      const { digest, size, checkedAt } = added
      index.files.set(name, { digest, mode: added.mode & 0o777, size, checkedAt })
    }
  } catch (err) {
    await tasks?.dropRest(i)
    throw err
  }
  return addPackageMeta(ctx, index)
}

async function addHere (ctx: StoreContext, approved: Approved): Promise<Omit<AddedInThread, 'step'>> {
  const { content, mode } = openApproved(approved)
  const added = await ensureFile(ctx, content, { mode })
  return { digest: added.digest, size: added.size, checkedAt: added.checkedAt, mode }
}

/** The files of a folder given to the store's threads, collected in order as their tasks finish. */
interface ThreadTasks {
  /** File `i`'s result, once its task is done: null when the thread failed on it. */
  take: (i: number) => Promise<AddedInThread | null>
  /** The add failed at file `from`: waits for every task and removes the temp files nobody will rename. */
  dropRest: (from: number) => Promise<void>
}

/**
 * Splits the folder's files into tasks for the store's threads; undefined when the store has no threads or the
 * folder is too small to be worth them. A task that fails as a whole (its thread died, the store closed) leaves
 * its files to the calling thread.
 */
function inThreads (ctx: StoreContext, files: Approved[]): ThreadTasks | undefined {
  const threads = ctx.threads
  if (threads === undefined || files.length < THREAD_MIN_FILES) return undefined
  const size = Math.ceil(files.length / (threads.size * TASKS_PER_THREAD))
  const tasks: Array<Promise<Array<AddedInThread | null>>> = []
  for (let from = 0; from < files.length; from += size) {
    const chunk = files.slice(from, from + size)
    tasks.push(threads.run<Array<AddedInThread | null>>(THREAD_JOBS, 'addApprovedFiles', { files: chunk })
      .catch(() => chunk.map(() => null)))
  }
  return {
    take: async i => (await tasks[Math.floor(i / size)]!)[i % size]!,
    dropRest: async from => {
      const results = (await Promise.all(tasks)).flat().slice(from)
      dropSteps(results.flatMap(added => added === null ? [] : [added.step]))
    },
  }
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
