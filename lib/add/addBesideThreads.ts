import os from 'node:os'
import type { ContextThreads, StoreContext } from '../context.js'
import { POSTED_PER_THREAD } from '../threads/threadPool.js'
import { siblingModule } from '../threads/threadStores.js'
import { reach } from '../util/hooks.js'
import { completeStep, dropSteps } from '../write/completeStep.js'
import { ensureFile } from '../write/ensureFile.js'
import type { AddedInThread } from './addDirInThread.js'
import { openApproved, type Approved } from './openApproved.js'

/** One file added: what its package index entry needs. */
export type AddedFile = Omit<AddedInThread, 'step'>

/**
 * A folder with at least this many files is shared with the store's threads (when it has some). Below it, the
 * hand-off (a message each way, a copy of the list) costs more than a second core saves.
 */
export const THREAD_MIN_FILES = 64

/**
 * Files per task handed to a thread. Small tasks cost more in messages and interleaving (measured: 128-file tasks
 * took 1.6x the CPU of 6,000-file ones); a thread holds two at a time (the one it runs, the next one), so with
 * 512 it never runs dry while the calling thread is busy with its own share.
 */
export const TASK_FILES = 512

/**
 * Near the end of a folder a task is at most this share of the files left (and at least {@link MIN_TASK_FILES}):
 * with full tasks, the calling thread ran out of files while the thread still had up to two tasks to do, and
 * waited 0-38 ms (~20 ms on average, 12,000 files, tmpfs) for their answers, idle. With tasks shrinking to a
 * quarter of what is left, it waited 0 ms in 6 of 6 adds.
 */
const TAIL_SHARE = 4

/** The smallest task a thread is handed (below it, the message costs more than the files). */
export const MIN_TASK_FILES = 64

/**
 * Files the calling thread adds between two looks at the threads (their answers, room for a new task). Smaller
 * than a task, so a thread that finished one is handed the next soon.
 */
export const HERE_FILES = 256

const THREAD_JOBS = siblingModule(import.meta.url, 'addDirInThread')

/**
 * Readies the store's threads for {@link addBesideThreads}: boots them and loads their task module while the
 * caller walks the folder. Fire and forget.
 */
export function prepareThreads (ctx: StoreContext): void {
  if (ctx.threads !== undefined) ctx.threads.prepare(THREAD_JOBS, threadsBeside(ctx.threads)).catch(() => {})
}

/**
 * Adds `files` (approved by the walk, see `openApproved.ts`) and returns what each one's index entry needs, in the
 * order of `files`. The calling thread adds files itself from the start, a slice at a time; a store thread is
 * handed tasks once it is ready (booted, its module loaded, its owner record held). So a folder never waits for a
 * thread to boot (a cold thread takes ~70 ms to start, and compiles cold code), and a small one is done before any
 * thread joins.
 *
 * A thread's files are finished here, each under this thread's path lock (`LockedStep`, see `context.ts`): the
 * rename into place or the claim. A file a thread could not add, or whose claimed content vanished before the claim,
 * is added here, so its error (the file changed, a lock timed out) is the real one, thrown from this thread. After
 * an error, every temp file the threads wrote for files not finished is removed.
 *
 * Measured, 12,000 files, tmpfs, 2 cores, cold threads (median of 6): every file handed to 2 threads and only the
 * renames here 573-591 ms; one thread beside this one adding too 437-444 ms; pnpm 10 461-496 ms.
 */
export async function addBesideThreads (ctx: StoreContext, files: Approved[]): Promise<AddedFile[]> {
  const threads = files.length >= THREAD_MIN_FILES ? ctx.threads : undefined
  if (threads === undefined) {
    const out: AddedFile[] = []
    for (const file of files) out.push(await addHere(ctx, file))
    return out
  }
  return await new SharedAdd(ctx, threads, files).run()
}

/**
 * How many of the store's threads work beside the calling thread: one per core but its own, so that no core runs
 * two adders (measured, 12,000 files on 2 cores: with both threads beside it, 506-539 ms; with one, 437-444 ms).
 */
function threadsBeside (threads: ContextThreads): number {
  return Math.max(1, Math.min(threads.size, os.availableParallelism() - 1))
}

/** Files in the next task when `left` files are not handed out yet. */
export function taskSize (left: number): number {
  return Math.min(TASK_FILES, Math.max(MIN_TASK_FILES, Math.ceil(left / TAIL_SHARE)))
}

async function addHere (ctx: StoreContext, approved: Approved): Promise<AddedFile> {
  const { content, mode } = await openApproved(approved, { closing: ctx.closing })
  const added = await ensureFile(ctx, content, { mode })
  return { digest: added.digest, size: added.size, checkedAt: added.checkedAt, mode }
}

/** A thread's answered task: its files from `from` on, finished here up to `done`. */
interface Answered {
  from: number
  results: Array<AddedInThread | null>
  done: number
}

/** One folder's files, shared between the calling thread and the store's threads. */
class SharedAdd {
  readonly #ctx: StoreContext
  readonly #threads: ContextThreads
  readonly #files: Approved[]
  readonly #out: AddedFile[]
  readonly #threadCount: number
  /** The first file not handed out yet (to a thread or to this thread). */
  #next = 0
  #posted = 0
  #ready = false
  #handedOff = false
  /** Tasks answered whose files are not all finished here yet, in the order they were answered. */
  readonly #answered: Answered[] = []
  /** Every task handed out, settled once its answer is in `#answered`. */
  readonly #tasks: Array<Promise<void>> = []

  constructor (ctx: StoreContext, threads: ContextThreads, files: Approved[]) {
    this.#ctx = ctx
    this.#threads = threads
    this.#files = files
    this.#out = new Array<AddedFile>(files.length)
    this.#threadCount = threadsBeside(threads)
  }

  async run (): Promise<AddedFile[]> {
    const first = this.#files[0]!.realPath
    this.#threads.prepare(THREAD_JOBS, this.#threadCount).then(async ready => {
      if (ready) await reach(this.#ctx.hooks, 'add:threadsReady', first)
      this.#ready = ready
    }).catch(() => {})
    try {
      while (this.#next < this.#files.length) {
        await this.#finishAnswered()
        await this.#handOutNext()
        // Let the threads' answers (and their readiness) in before the next slice.
        await new Promise(resolve => setImmediate(resolve))
      }
      // Every file is handed out. The threads' last tasks are finished once all are answered: waiting for each in
      // turn would overlap a few milliseconds of renames, and leave a window where an answer arriving during the
      // last rename is never looked at.
      await Promise.all(this.#tasks)
      await this.#finishAnswered()
      return this.#out
    } catch (err) {
      await this.#dropRest()
      throw err
    }
  }

  /** Hands the next slice to a thread if one is ready and has room, or adds it here. */
  async #handOutNext (): Promise<void> {
    const from = this.#next
    const hasRoom = (): boolean => this.#ready && this.#posted < this.#threadCount * POSTED_PER_THREAD
    if (!hasRoom()) await reach(this.#ctx.hooks, 'add:here', this.#files[from]!.realPath)
    if (hasRoom()) {
      const to = Math.min(this.#files.length, from + taskSize(this.#files.length - from))
      this.#next = to
      this.#post(from, to)
      return
    }
    const to = Math.min(this.#files.length, from + HERE_FILES)
    this.#next = to
    for (let i = from; i < to; i++) this.#out[i] = await addHere(this.#ctx, this.#files[i]!)
  }

  #post (from: number, to: number): void {
    const chunk = this.#files.slice(from, to)
    this.#posted++
    this.#tasks.push(this.#threads.run<Array<AddedInThread | null>>(THREAD_JOBS, 'addApprovedFiles', { files: chunk },
      this.#threadCount)
      .catch(() => chunk.map(() => null)) // the thread died or the store closed: its files are added here
      .then(results => {
        this.#posted--
        this.#answered.push({ from, results, done: 0 })
      }))
  }

  /** Finishes the answered tasks' files here: each one's locked step, or the whole add when the thread failed it. */
  async #finishAnswered (): Promise<void> {
    for (;;) {
      const answered = this.#answered[0]
      if (answered === undefined) return
      if (!this.#handedOff) {
        this.#handedOff = true
        await reach(this.#ctx.hooks, 'add:handedOff', this.#files[answered.from]!.realPath)
      }
      for (; answered.done < answered.results.length; answered.done++) {
        const i = answered.from + answered.done
        const fromThread = answered.results[answered.done]
        if (fromThread != null && await completeStep(this.#ctx, fromThread.step)) {
          const { step: _done, ...added } = fromThread
          this.#out[i] = added
        } else {
          await reach(this.#ctx.hooks, 'add:redoneHere', this.#files[i]!.realPath)
          this.#out[i] = await addHere(this.#ctx, this.#files[i]!)
        }
      }
      this.#answered.shift()
    }
  }

  /** The add failed: waits for every task, then removes the temp files of the thread files not finished here. */
  async #dropRest (): Promise<void> {
    await Promise.all(this.#tasks)
    for (const answered of this.#answered.splice(0)) {
      dropSteps(answered.results.slice(answered.done).flatMap(added => added === null ? [] : [added.step]))
    }
  }
}
