import fs from 'node:fs'
import path from 'node:path'
import { FileAccessError } from '../errors.js'
import { IMPORT_JOURNAL_SUFFIX, uniqueId } from '../layout/tempName.js'
import type { TempOwner } from './tempOwner.js'
import type { ClosingState } from '../util/closing.js'
import { errorCode, isFdExhaustion, whenDescriptorsFree, writeAllSync } from '../util/fs.js'

/*
 * Why a journal: an import builds its package in a hidden temp folder next to the target (in the user's
 * node_modules, not in the store), and an importer killed mid-import leaves that folder there. Nothing else knows
 * where it is, so before making it the import appends its path to this journal, in the store's `tmp/`. `cas verify
 * --fix` and `cas prune` read the journal of a store whose owner record is free (its process died or closed it)
 * and remove the folders it names that are still there (see `maint/importLeftovers.ts`).
 *
 * Why one append-only journal per open store rather than a marker file per import: measured per import (same
 * process, alternating blocks), a marker's create and unlink in `tmp/` cost 10 µs on tmpfs and 35 µs or more on
 * ext4 (a 20-file hard-linked import takes 70 and 150 µs there); an append to a descriptor already open is within
 * the noise (about 0.6 µs alone). Emptying it after every import (ftruncate) cost a few µs more on ext4, so a
 * finished import's entry stays: it names a folder that is gone (renamed into place or removed) under a name never
 * used again, which a cleaner skips. The journal is emptied when it passes {@link JOURNAL_EMPTIED_AT} with no
 * import in flight, and removed when the store closes. (A process whose imports always overlap would never empty
 * it; an install ends, so none does.)
 */

/** Size past which the journal is emptied at the next moment no import is in flight (about 400 entries). */
export const JOURNAL_EMPTIED_AT = 64 * 1024

/** An open store's record of the temp folders its imports are making (`tmp/<unique id>.cas-imports`). */
export class ImportJournal {
  readonly #tmpDir: string
  readonly #owner: TempOwner
  readonly #closing: ClosingState | undefined
  #fd: number | undefined
  #file: string | undefined
  #opening: Promise<void> | undefined
  #inFlight = 0
  #size = 0
  /** A folder of an import could not be removed: its entry must stay for a cleaner, so the journal is kept. */
  #kept = false

  /**
   * `owner`: the store's owner record; the journal is written only while it is held, so a cleaner sees it live.
   * `closing`: the store's closing state (a wait for a descriptor gives up once it has started).
   */
  constructor (tmpDir: string, owner: TempOwner, closing?: ClosingState) {
    this.#tmpDir = tmpDir
    this.#owner = owner
    this.#closing = closing
  }

  /** True once the journal is open (then {@link open} has nothing to do: no promise on the import path). */
  get ready (): boolean {
    return this.#fd !== undefined
  }

  /** Holds the store's owner record and creates the journal (once per store); call before {@link begin}. */
  async open (): Promise<void> {
    this.#opening ??= this.#create()
    await this.#opening
  }

  async #create (): Promise<void> {
    try {
      // Held first: from the journal's first byte on, a cleaner finds its owner alive and leaves it alone.
      if (!this.#owner.held) await this.#owner.hold()
      const file = path.join(this.#tmpDir, uniqueId() + IMPORT_JOURNAL_SUFFIX)
      // Out of descriptors (an install importing many packages at once), the first import waits for one.
      this.#fd = await whenDescriptorsFree(() => openNew(file, this.#tmpDir), { closing: this.#closing }).catch(err => {
        throw isFdExhaustion(err) ? new FileAccessError(file, err as NodeJS.ErrnoException) : err
      })
      this.#file = file
    } catch (err) {
      this.#opening = undefined // the next import tries again
      throw err
    }
  }

  /**
   * Records that an import is about to create the temp folder `stage` (an absolute path). Call before the folder
   * exists: a process killed between the two leaves an entry naming nothing, which a cleaner skips. Every call
   * that returns must be followed by one {@link end}.
   */
  begin (stage: string): void {
    // NUL ends an entry: the one byte no path can hold. One write to an O_APPEND descriptor: an entry cut short by
    // a crash has no NUL after it, and a cleaner drops it.
    const entry = Buffer.from(stage + '\0')
    try {
      writeAllSync(this.#fd!, entry)
    } catch (err) {
      throw new FileAccessError(this.#file!, err as NodeJS.ErrnoException)
    }
    this.#size += entry.length
    this.#inFlight++
  }

  /**
   * The import of a {@link begin} is over and its folders are gone (renamed into place or removed), unless
   * `leftover`: then one of them could not be removed and the journal keeps naming it until the store is gone.
   */
  end (leftover: boolean): void {
    this.#inFlight--
    if (leftover) this.#kept = true
    // Emptied only with no import in flight: an entry is never lost while its folder may exist.
    if (this.#inFlight > 0 || this.#kept || this.#size < JOURNAL_EMPTIED_AT || this.#fd === undefined) return
    try {
      fs.ftruncateSync(this.#fd, 0)
      this.#size = 0
    } catch {
      // Its entries stay: they name folders that are gone, which a cleaner skips.
    }
  }

  /**
   * The store is closing. The journal is removed when it names nothing left (else kept for a cleaner); call
   * before the owner record is released, so a cleaner never finds a free owner with a journal still in use.
   */
  close (): void {
    if (this.#fd === undefined) return
    if (this.#inFlight === 0 && !this.#kept) {
      try {
        fs.unlinkSync(this.#file!)
      } catch {
        // Already gone (a user emptied tmp/), or left for a cleaner: it names nothing that is still there.
      }
    }
    fs.closeSync(this.#fd)
    this.#fd = undefined
    this.#opening = undefined
  }
}

/**
 * Creates `file` (O_EXCL, append-only), making the temp folder again if a user removed it. EMFILE and ENFILE are
 * thrown as they are, for the caller to wait on.
 */
function openNew (file: string, tmpDir: string): number {
  const flags = fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL | fs.constants.O_APPEND
  try {
    return fs.openSync(file, flags, 0o644)
  } catch (err) {
    if (isFdExhaustion(err)) throw err
    if (errorCode(err) !== 'ENOENT') throw new FileAccessError(file, err as NodeJS.ErrnoException)
  }
  try {
    fs.mkdirSync(tmpDir, { recursive: true })
    return fs.openSync(file, flags, 0o644)
  } catch (err) {
    if (isFdExhaustion(err)) throw err
    throw new FileAccessError(file, err as NodeJS.ErrnoException)
  }
}
