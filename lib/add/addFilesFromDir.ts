import { isUtf8 } from 'node:buffer'
import fs from 'node:fs'
import path from 'node:path'
import type { StoreContext } from '../context.js'
import {
  FileAccessError, FileChangedError, InvalidArgumentError, TooLargeError, TooManyEntriesError, UnsafePathError,
} from '../errors.js'
import { isSafePackageFileName } from '../pkgIndex/fileName.js'
import type { PackageIndex } from '../types.js'
import type { ClosingState } from '../util/closing.js'
import { errorCode, whenDescriptorsFree } from '../util/fs.js'
import { reach, type TestHooks } from '../util/hooks.js'
import { addBesideThreads, prepareThreads } from './addBesideThreads.js'
import { addPackageMeta } from './addPackageMeta.js'
import { DEFAULT_MAX_ENTRIES, DEFAULT_MAX_UNPACKED_BYTES, type AddLimits } from './limits.js'
import type { Approved } from './openApproved.js'

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
 * times. More than `options.maxEntries` files (default 200,000) is refused with `ERR_CAS_TOO_MANY_ENTRIES`, and
 * files adding up to more than `options.maxUnpackedBytes` (default 8 GiB) with `ERR_CAS_TOO_LARGE`. A name no
 * package index can carry (a backslash or a drive letter, separators on Windows; bytes that are not UTF-8) refuses
 * the folder with `ERR_CAS_UNSAFE_PATH` rather than being indexed under another name.
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
  prepareThreads(ctx)
  const files = new Map<string, Approved>()
  const walk: Walk = {
    root,
    maxEntries: options.maxEntries ?? DEFAULT_MAX_ENTRIES,
    maxBytes: options.maxUnpackedBytes ?? DEFAULT_MAX_UNPACKED_BYTES,
    bytes: 0,
    visits: new Map(),
    out: files,
    hooks: ctx.hooks,
    closing: ctx.closing,
    lastTurn: performance.now(),
  }
  await collect(walk, root, '', new Set([root]))
  await reach(ctx.hooks, 'add:walked', root)
  const index: PackageIndex = { algo: 'sha512', files: new Map() }
  const names = [...files.keys()]
  const added = await addBesideThreads(ctx, [...files.values()])
  for (let i = 0; i < names.length; i++) {
    const { digest, size, checkedAt, mode } = added[i]!
    index.files.set(names[i]!, { digest, mode: mode & 0o777, size, checkedAt })
  }
  return await addPackageMeta(ctx, index)
}

interface Walk {
  root: string
  maxEntries: number
  maxBytes: number
  /** What the files found so far add up to (each name at its size: every name is read). */
  bytes: number
  /** Times each real directory has been walked. */
  visits: Map<string, number>
  out: Map<string, Approved>
  hooks: TestHooks | undefined
  /** The store's closing state: a wait for a descriptor gives up once it has started. */
  closing: ClosingState
  /** When the walk last let the event loop run (ms, `performance.now()`). */
  lastTurn: number
}

/**
 * The walk lets the event loop run at least this often (ms). Its calls are synchronous, and a big folder takes tens
 * of milliseconds to walk: the store's threads, booting meanwhile, are ready only once this thread has read their
 * answers (measured, 12,000 files: a thread that loaded its module in ~55 ms was ready to take work at ~100 ms).
 */
const WALK_TURN_MS = 4

async function collect (walk: Walk, realDir: string, prefix: string, ancestors: Set<string>): Promise<void> {
  if (performance.now() - walk.lastTurn >= WALK_TURN_MS) {
    await new Promise(resolve => setImmediate(resolve))
    walk.lastTurn = performance.now()
  }
  for (const entry of await readDir(realDir, walk.closing)) {
    const entryPath = path.join(realDir, entry.name)
    const name = prefix === '' ? entry.name : `${prefix}/${entry.name}`
    // A name that is not UTF-8 comes back with U+FFFD in it: another name, one lstat would not find (or would find
    // as another file). Only then is the folder listed again, as bytes, to tell it from a real U+FFFD. Such a name
    // is refused only where it would be indexed or walked: what the walk skips anyway stays skipped.
    const raw = entry.name.includes('\uFFFD') ? notUtf8Name(realDir, entry.name) : undefined
    let realPath = entryPath
    if (entry.isSymbolicLink()) {
      const linkPath = raw === undefined ? entryPath : Buffer.concat([Buffer.from(realDir + path.sep), raw])
      const resolved = resolveInside(walk.root, linkPath)
      if (resolved === undefined) continue
      realPath = resolved
    } else if (!entry.isDirectory() && !entry.isFile()) {
      continue // sockets, fifos, devices: not package content
    }
    if (raw !== undefined) throw new UnsafePathError(name, 'its bytes are not UTF-8')
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
      // Windows would read a backslash, or a drive letter at the start, as a path of its own.
      if (!isSafePackageFileName(name)) throw new UnsafePathError(name, 'a backslash or a drive letter in it')
      if (!walk.out.has(name) && walk.out.size >= walk.maxEntries) throw new TooManyEntriesError('folder', walk.maxEntries)
      walk.bytes += stat.size
      if (walk.bytes > walk.maxBytes) throw new TooLargeError(`The folder ${walk.root}`, walk.maxBytes, walk.bytes)
      walk.out.set(name, { realPath, dev: stat.dev, ino: stat.ino })
    }
  }
}

/** The link's real target when it exists and lies inside `root`; undefined for dangling or escaping links. */
function resolveInside (root: string, linkPath: string | Buffer): string | undefined {
  let target: string
  try {
    // A name given as bytes (not UTF-8) only the native realpath keeps as it is; the other decodes it first.
    target = typeof linkPath === 'string' ? fs.realpathSync(linkPath) : fs.realpathSync.native(linkPath)
  } catch {
    return undefined
  }
  const rel = path.relative(root, target)
  // Outside is `..` or `../…`; a name that only starts with two dots (`..data`, as Kubernetes volumes have) is in.
  if (rel === '' || rel === '..' || rel.startsWith(`..${path.sep}`) || path.isAbsolute(rel)) return undefined
  return target
}

/**
 * The bytes of a name in `dir` that are not UTF-8 and decode to `name`, if there is one. Such a name is refused
 * even beside a real `name` (with a real U+FFFD): it would be read as that other file.
 */
function notUtf8Name (dir: string, name: string): Buffer | undefined {
  let raw: Buffer[]
  try {
    raw = fs.readdirSync(dir, { encoding: 'buffer' })
  } catch (err) {
    throw new FileAccessError(dir, err as NodeJS.ErrnoException)
  }
  return raw.find(bytes => !isUtf8(bytes) && bytes.toString('utf8') === name)
}

/** A folder's entries; out of descriptors, waits for one (see `whenDescriptorsFree`) instead of failing the add. */
async function readDir (dir: string, closing: ClosingState): Promise<fs.Dirent[]> {
  try {
    return await whenDescriptorsFree(() => fs.readdirSync(dir, { withFileTypes: true }), { closing })
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
