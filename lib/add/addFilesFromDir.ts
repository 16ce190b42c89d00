import fs from 'node:fs'
import path from 'node:path'
import type { StoreContext } from '../context.js'
import { FileAccessError, InvalidArgumentError } from '../errors.js'
import type { PackageIndex } from '../types.js'
import { createReadStream, errorCode } from '../util/fs.js'
import { SYNC_IO_LIMIT } from '../util/hash.js'
import { ensureFile } from '../write/ensureFile.js'
import { addPackageMeta } from './addPackageMeta.js'

/**
 * Adds every regular file under `dir` to the store and returns the package index (names `/`-separated, relative
 * to `dir`; `manifest` and `requiresBuild` filled in from its package.json). Symlinks are followed only when their
 * target stays inside `dir` (a package must not be able to pull `/etc/passwd` into the store); a link back to a
 * directory being walked is skipped, so link cycles end.
 */
export async function addFilesFromDir (ctx: StoreContext, dir: string): Promise<PackageIndex> {
  let root: string
  try {
    root = fs.realpathSync(dir)
  } catch (err) {
    throw new InvalidArgumentError(`addFilesFromDir: cannot open ${dir} (${errorCode(err) ?? String(err)}); pass an existing directory`)
  }
  if (!fs.statSync(root).isDirectory()) throw new InvalidArgumentError(`addFilesFromDir: ${dir} is not a directory`)
  const files = new Map<string, { realPath: string, stat: fs.Stats }>()
  collect(root, root, '', new Set([root]), files)
  const index: PackageIndex = { algo: 'sha512', files: new Map() }
  for (const [name, { realPath, stat }] of files) {
    const content = readContent(realPath, stat)
    const added = await ensureFile(ctx, content, { mode: stat.mode })
    const mode = stat.mode & 0o777
    index.files.set(name, { digest: added.digest, mode, size: added.size, checkedAt: added.checkedAt })
  }
  return await addPackageMeta(ctx, index)
}

function collect (
  root: string, realDir: string, prefix: string, walked: Set<string>,
  out: Map<string, { realPath: string, stat: fs.Stats }>,
): void {
  for (const entry of readDir(realDir)) {
    const entryPath = path.join(realDir, entry.name)
    const name = prefix === '' ? entry.name : `${prefix}/${entry.name}`
    let realPath = entryPath
    if (entry.isSymbolicLink()) {
      const resolved = resolveInside(root, entryPath)
      if (resolved === undefined) continue
      realPath = resolved
    } else if (!entry.isDirectory() && !entry.isFile()) {
      continue // sockets, fifos, devices: not package content
    }
    const stat = statFile(realPath)
    if (stat.isDirectory()) {
      // Only the directories being walked above us end a walk (a link back to an ancestor is a cycle); a
      // directory reached again through a sibling link is walked again, as pnpm does, so no name is dropped.
      if (walked.has(realPath)) continue
      walked.add(realPath)
      collect(root, realPath, name, walked, out)
      walked.delete(realPath)
    } else if (stat.isFile()) {
      out.set(name, { realPath, stat })
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

function statFile (file: string): fs.Stats {
  try {
    return fs.statSync(file)
  } catch (err) {
    throw new FileAccessError(file, err as NodeJS.ErrnoException)
  }
}

function readContent (file: string, stat: fs.Stats): Buffer | AsyncIterable<unknown> {
  try {
    // Large files are streamed; opening here surfaces EACCES now, with the file's name, rather than mid-stream.
    if (stat.size > SYNC_IO_LIMIT) return createReadStream(file, { fd: fs.openSync(file, 'r') })
    return fs.readFileSync(file)
  } catch (err) {
    throw new FileAccessError(file, err as NodeJS.ErrnoException)
  }
}
