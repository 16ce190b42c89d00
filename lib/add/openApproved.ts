import fs from 'node:fs'
import { FileAccessError, FileChangedError } from '../errors.js'
import { createReadStream, errorCode, isFdExhaustion, whenDescriptorsFree, type DescriptorWaitOptions } from '../util/fs.js'
import { SYNC_IO_LIMIT } from '../util/hash.js'

/** A file the walk approved: where it is, and which inode it was then. */
export interface Approved {
  realPath: string
  dev: number
  ino: number
}

/** What {@link openApproved} gives: the file's bytes (small) or a stream over its descriptor (large), and its mode. */
export interface OpenedFile {
  content: Buffer | AsyncIterable<unknown>
  mode: number
}

const OPEN_FLAGS = fs.constants.O_RDONLY | (fs.constants.O_NOFOLLOW ?? 0) | (fs.constants.O_NONBLOCK ?? 0)

/**
 * Opens the file the walk approved and checks that the descriptor is that file: a regular file, same device and
 * inode, really at the approved path. Returns its bytes (small) or a stream over the descriptor (large), and the
 * mode of the file actually opened. Out of descriptors (EMFILE, ENFILE: a large folder added beside other work, a
 * low `ulimit -n`), the open waits for one and tries again, as graceful-fs does for the writer's opens, instead of
 * failing the add; for at most `wait.giveUpAfterMs` (0: no wait), and not once the store is closing.
 */
export async function openApproved (file: Approved, wait: DescriptorWaitOptions = {}): Promise<OpenedFile> {
  const open = (): number => fs.openSync(file.realPath, OPEN_FLAGS)
  let fd: number
  try {
    // The open itself first, and the wait only after an EMFILE: with the wait's promise around every open, a cold
    // add of 12,000 files took 1.7% longer (median of 20 A/B pairs, tmpfs; B slower in 14 of 19); without, 10 of 20.
    try {
      fd = open()
    } catch (err) {
      if (!isFdExhaustion(err) || wait.giveUpAfterMs === 0) throw err
      fd = await whenDescriptorsFree(open, { ...wait, failedOnce: true })
    }
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
    const content = readKnownSize(fd, stat.size)
    fs.closeSync(fd)
    return { content, mode: stat.mode }
  } catch (err) {
    fs.closeSync(fd)
    if (err instanceof FileChangedError) throw err
    throw new FileAccessError(file.realPath, err as NodeJS.ErrnoException)
  }
}

/**
 * The file's bytes, `size` of them as fstat said (what readFileSync reads too), without readFileSync's second
 * fstat: for the small files of a package, the cost of an add is its syscalls.
 */
function readKnownSize (fd: number, size: number): Buffer {
  const buffer = Buffer.allocUnsafe(size)
  let done = 0
  while (done < size) {
    const n = fs.readSync(fd, buffer, done, size - done, done)
    if (n === 0) return buffer.subarray(0, done) // shrank since the fstat: what is there is what is added
    done += n
  }
  return buffer
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
