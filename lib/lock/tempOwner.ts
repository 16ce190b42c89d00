import fs from 'node:fs'
import path from 'node:path'
import { FileAccessError } from '../errors.js'
import { backoff, flockSync, openLockFile, tryFlock, unlockFd } from './flock.js'
import { errorCode, isFdExhaustion } from '../util/fs.js'
import { OWNER_SUFFIX, ownerId, ownerIdOfTemp } from '../layout/tempName.js'

/**
 * Proof that the writer of a temp file is alive, for `cas prune` and `cas verify --fix`. A temp file can wait a
 * long time for its rename (its writer queued behind a path lock another process holds), so age alone does not
 * prove its writer dead. Before its first temp file, each open store takes a shared flock on its thread's owner
 * record, `owners/<pid>-<thread>-<random>.cas-owner` in the store, and holds it until closed; every temp name
 * carries the same `<pid>-<thread>-…-<random>`. A cleaner that cannot take that record's lock exclusively leaves
 * its temps alone. The kernel drops the lock when the writer dies, SIGKILL included, so a dead writer's temps are
 * still cleaned.
 */
export class TempOwner {
  readonly #file: string
  #fd: number | undefined
  #holding: Promise<void> | undefined

  /**
   * `id`: whose temp files the record vouches for; this thread's by default. A store holds its threads' records
   * for them (see `threads/storeThreads.ts`): they take no OS lock themselves.
   */
  constructor (root: string, id = ownerId()) {
    this.#file = path.join(root, OWNERS_DIR, id + OWNER_SUFFIX)
  }

  /** True once the record is held (then {@link hold} has nothing to do: no promise on the write path). */
  get held (): boolean {
    return this.#fd !== undefined
  }

  /**
   * Holds the owner record (once per store); call before creating a temp file. Calls that overlap (the first
   * writes of a store, started together) share one try: each opening a descriptor of its own, all but one would
   * be left open, and locked, for the life of the process.
   */
  async hold (): Promise<void> {
    if (this.#fd !== undefined) return
    this.#holding ??= this.#hold().finally(() => { this.#holding = undefined })
    await this.#holding
  }

  async #hold (): Promise<void> {
    let madeDir = false
    for (let attempt = 0; ; attempt++) {
      let fd: number
      try {
        fd = openLockFile(this.#file)
      } catch (err) {
        if (isFdExhaustion(err)) { // out of descriptors: wait for one, as graceful-fs does for the temp file itself
          await backoff(attempt)
          continue
        }
        if (errorCode(err) !== 'ENOENT' || madeDir) throw new FileAccessError(this.#file, err as NodeJS.ErrnoException)
        madeDir = true
        try {
          fs.mkdirSync(path.dirname(this.#file), { recursive: true })
        } catch (mkdirErr) {
          throw new FileAccessError(path.dirname(this.#file), mkdirErr as NodeJS.ErrnoException)
        }
        continue
      }
      // A cleaner holds it exclusively for an instant while it judges it, and may remove it then: only a lock on
      // the file still at that path counts.
      if (tryLock(fd, 'shnb') && sameFile(fd, this.#file)) {
        this.#fd = fd
        return
      }
      unlockFd(fd)
      await backoff(attempt)
    }
  }

  /**
   * Drops the record's lock (the store is closing: it writes no more temp files), and the record itself when
   * nobody else holds it: left behind, every clean run would leave one for `cas verify` to list as stale. It is
   * removed holding it exclusively, as a cleaner removes a dead writer's, so another store of this thread that
   * takes it meanwhile either keeps it (the lock fails here) or finds it gone and makes a new one (`hold` checks
   * the inode).
   */
  release (): void {
    const fd = this.#fd
    if (fd === undefined) return
    this.#fd = undefined
    try {
      if (tryLock(fd, 'exnb') && sameFile(fd, this.#file)) fs.rmSync(this.#file, { force: true })
    } catch {
      // Left for the cleaners: a record is only ever judged by its lock, which closing the descriptor drops.
    } finally {
      unlockFd(fd)
    }
  }
}

/** flock without waiting: true when taken, false when someone holds it (`shnb` shared, `exnb` exclusive). */
function tryLock (fd: number, how: 'shnb' | 'exnb'): boolean {
  try {
    flockSync(fd, how)
    return true
  } catch (err) {
    const code = errorCode(err)
    if (code === 'EAGAIN' || code === 'EWOULDBLOCK') return false
    throw err
  }
}

function sameFile (fd: number, file: string): boolean {
  const held = fs.fstatSync(fd)
  const now = fs.statSync(file, { throwIfNoEntry: false })
  return now !== undefined && now.ino === held.ino && now.dev === held.dev
}

/** The folder of owner records, in the store root (not in tmp/, which holds only temp files). */
export const OWNERS_DIR = 'owners'

/**
 * Whether the writer of `tmp/<name>` (a temp file) or of `owners/<name>` (an owner record itself) is alive: true
 * when its owner record is locked by a live store. False when the record is free (its writer closed its store or
 * died), and undefined when the name has no owner record (an older writer, a foreign file): then age alone decides.
 */
export function tempWriterAlive (root: string, name: string): boolean | undefined {
  const owner = name.endsWith(OWNER_SUFFIX) ? name.slice(0, -OWNER_SUFFIX.length) : ownerIdOfTemp(name)
  if (owner === undefined) return undefined
  let fd: number
  try {
    fd = fs.openSync(path.join(root, OWNERS_DIR, owner + OWNER_SUFFIX), fs.constants.O_RDWR)
  } catch (err) {
    // No record: not a writer that keeps one. Unopenable: cannot tell, so count it alive (never remove live work).
    return errorCode(err) === 'ENOENT' ? undefined : true
  }
  try {
    return !tryFlock(fd)
  } finally {
    unlockFd(fd)
  }
}
