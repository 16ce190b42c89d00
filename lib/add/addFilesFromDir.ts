import fs from 'node:fs'
import path from 'node:path'
import type { StoreContext } from '../context.js'
import { FileAccessError, FileChangedError, InvalidArgumentError, TooManyEntriesError } from '../errors.js'
import type { PackageIndex } from '../types.js'
import { createReadStream, errorCode } from '../util/fs.js'
import { SYNC_IO_LIMIT } from '../util/hash.js'
import { reach, type TestHooks } from '../util/hooks.js'
import { ensureFile } from '../write/ensureFile.js'
import { addPackageMeta } from './addPackageMeta.js'
import { DEFAULT_MAX_ENTRIES, type AddLimits } from './limits.js'

/**
 * How many times one real directory is walked when links inside the package reach it under several names. Each
 * name is indexed (as pnpm does) up to this many; past it, further links to it are skipped. Without a bound, a
 * few links per level fan out exponentially (17 files became 262,125 index entries).
 */
export const MAX_DIR_VISITS = 4

/** A file the walk approved: where it is, and which inode it was then. */
interface Approved {
  realPath: string
  dev: number
  ino: number
}

const OPEN_FLAGS = fs.constants.O_RDONLY | (fs.constants.O_NOFOLLOW ?? 0) | (fs.constants.O_NONBLOCK ?? 0)

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
  for (const [name, approved] of files) {
    const { content, mode } = openApproved(approved)
    const added = await ensureFile(ctx, content, { mode })
    index.files.set(name, { digest: added.digest, mode: mode & 0o777, size: added.size, checkedAt: added.checkedAt })
  }
  return await addPackageMeta(ctx, index)
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

/**
 * Opens the file the walk approved and checks that the descriptor is that file: a regular file, same device and
 * inode, really at the approved path. Returns its bytes (small) or a stream over the descriptor (large), and the
 * mode of the file actually opened.
 */
function openApproved (file: Approved): { content: Buffer | AsyncIterable<unknown>, mode: number } {
  let fd: number
  try {
    fd = fs.openSync(file.realPath, OPEN_FLAGS)
  } catch (err) {
    const code = errorCode(err)
    if (code === 'ELOOP') throw new FileChangedError(file.realPath, 'it became a symbolic link')
    if (code === 'ENOENT') throw new FileChangedError(file.realPath, 'it was removed')
    throw new FileAccessError(file.realPath, err as NodeJS.ErrnoException)
  }
  try {
    const stat = fs.fstatSync(fd)
    if (!stat.isFile()) throw new FileChangedError(file.realPath, 'it is no longer a regular file')
    if (stat.dev !== file.dev || stat.ino !== file.ino) throw new FileChangedError(file.realPath, 'another file took its place')
    const where = openedPath(fd)
    if (where !== undefined && where !== file.realPath) throw new FileChangedError(file.realPath, `it is reached through a link, at ${where}`)
    // Large files are streamed from this very descriptor; small ones are read from it now.
    if (stat.size > SYNC_IO_LIMIT) return { content: createReadStream('', { fd }), mode: stat.mode }
    const content = fs.readFileSync(fd)
    fs.closeSync(fd)
    return { content, mode: stat.mode }
  } catch (err) {
    fs.closeSync(fd)
    if (err instanceof FileChangedError) throw err
    throw new FileAccessError(file.realPath, err as NodeJS.ErrnoException)
  }
}

/** Where the kernel says an open descriptor's file is (Linux); undefined where that cannot be asked. */
function openedPath (fd: number): string | undefined {
  if (process.platform !== 'linux') return undefined
  try {
    return fs.readlinkSync(`/proc/self/fd/${fd}`)
  } catch {
    return undefined
  }
}
