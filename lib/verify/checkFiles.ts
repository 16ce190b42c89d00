import type { StoreContext } from '../context.js'
import { siblingModule } from '../threads/threadStores.js'
import { reach } from '../util/hooks.js'
import { checkFile, fastVerdict, GOOD_HASHED, type CheckPolicy, type FileVerdict } from './checkFile.js'
import { hashFiles, HASHED_GOOD, type HashTask } from './hashInThread.js'

/** One content file to verify, with what its index says about it. */
export interface FileToCheck {
  path: string
  digest: string
  size: number
  checkedAt: number | undefined
}

/** How {@link checkFiles} may work. */
export interface CheckFilesOptions {
  /** Hash on the store's threads (when it has them and there are enough files to hash). */
  threads: boolean
  /**
   * How many of the store's threads may hash (default: all of them). This thread hashes too, once it has handed
   * out what the threads can take: a caller with nothing else to do asks for one fewer than the cores.
   */
  threadCount?: number
  /**
   * Files per task handed to a thread (default {@link CHUNK}). A caller that checks several packages at once keeps
   * the threads busy with packages, and gains from fewer, larger tasks (see `maint/verifyStore.ts`).
   */
  chunk?: number
  /** Told each file's verdict as soon as it is final (`at`: its place in `files`), in no particular order. */
  onVerdict?: (at: number, verdict: FileVerdict) => void
}

/**
 * Fewer files to hash than this and the calling thread hashes them itself: handing a file to a thread and reading
 * its answer costs about what hashing a few small files does (the bulk adds use the same bar).
 */
export const MIN_THREAD_BATCH = 64

/** Files per chunk: a message then costs little per file, and one package's work still spreads evenly. */
export const CHUNK = 64

/** Chunks handed to each thread at a time: one it works on, one waiting, so it never waits for this thread. */
const PER_THREAD = 2

const HASH_MODULE = siblingModule(import.meta.url, 'hashInThread')

/**
 * Verdicts for many content files at once (in the order of `files`), by exactly {@link checkFile}'s rules, faster:
 * 1. the fast path (one synchronous stat, no promise) settles every file untouched since it was known good, and
 *    every missing one;
 * 2. with `threads` and enough of them, the files left are hashed lock-free in chunks: by the store's threads as
 *    the stat pass finds them, and, once it is done, by this thread too (while the threads start, and beside
 *    them). A hash only ever proves a file good (`hashInThread.ts`);
 * 3. every file not proven good by then goes through {@link checkFile} on this thread, one after another: it looks
 *    again, and removes nothing unless proven wrong under the path lock. So does every file of a chunk that failed
 *    (a thread that died, a store closed meanwhile): the threads only ever save work, they never decide.
 */
export async function checkFiles (
  ctx: StoreContext, files: FileToCheck[], policy: CheckPolicy, options: CheckFilesOptions,
): Promise<FileVerdict[]> {
  const verdicts = new Array<FileVerdict | undefined>(files.length)
  const settle = (at: number, verdict: FileVerdict): void => {
    verdicts[at] = verdict
    options.onVerdict?.(at, verdict)
  }
  const left: number[] = []
  const hashing = options.threads && ctx.threads !== undefined
    ? new Hashing(ctx, files, settle, options.threadCount ?? ctx.threads.size)
    : undefined
  const chunk = Math.max(1, options.chunk ?? CHUNK)
  let pending: number[] = []
  // Never left by an error while a thread still works on this call's files (a verdict's listener may throw).
  try {
    for (let i = 0; i < files.length; i++) {
      const f = files[i]!
      // A file never checked (checkedAt 0 or none) or re-hashed anyway (--full) goes to hashing without a stat here:
      // the stat could only find it missing, which a failed hash leaves to checkFile to say. (With checkedAt 0 the
      // fast path would also trust a file last changed in the first 100 ms of 1970: that one is hashed instead.)
      const neverTrusted = hashing !== undefined && (policy.full === true || !((f.checkedAt ?? 0) > 0))
      const fast = neverTrusted ? undefined : fastVerdict(f.path, f.size, f.checkedAt, policy)
      if (fast !== undefined) {
        settle(i, fast)
        continue
      }
      left.push(i)
      if (hashing === undefined) continue
      pending.push(i)
      if (pending.length === chunk) {
        await hashing.add(pending)
        pending = []
        // Let the event loop read the threads' answers and hand them more, while the stat pass goes on.
        if (hashing.started) await new Promise(resolve => setImmediate(resolve))
        if (hashing.failed) break // finish() throws it, once the threads are done
      }
    }
    if (hashing !== undefined && pending.length > 0 && (hashing.started || pending.length >= MIN_THREAD_BATCH)) {
      await hashing.add(pending)
    }
  } catch (err) {
    await hashing?.abandon()
    throw err
  }
  await hashing?.finish()
  for (const i of left) {
    if (verdicts[i] !== undefined) continue
    const f = files[i]!
    settle(i, await checkFile(ctx, f.path, f.digest, f.size, f.checkedAt, policy))
  }
  return verdicts as FileVerdict[]
}

/** The chunks of one {@link checkFiles} call: handed to the store's threads, or hashed here when they lag. */
class Hashing {
  readonly #ctx: StoreContext
  readonly #files: FileToCheck[]
  readonly #settle: (at: number, verdict: FileVerdict) => void
  readonly #queue: number[][] = []
  readonly #threadCount: number
  readonly #limit: number
  #sent = 0
  #answered: Promise<void>[] = []
  #failure: { error: unknown } | undefined
  started = false

  constructor (
    ctx: StoreContext, files: FileToCheck[], settle: (at: number, verdict: FileVerdict) => void, threadCount: number,
  ) {
    this.#ctx = ctx
    this.#files = files
    this.#settle = settle
    this.#threadCount = Math.max(1, Math.min(ctx.threads!.size, threadCount))
    this.#limit = this.#threadCount * PER_THREAD
  }

  /** Queues a chunk of file indexes, and hands chunks to the threads as far as they have room. */
  async add (chunk: number[]): Promise<void> {
    if (!this.started) {
      this.started = true
      await reach(this.#ctx.hooks, 'verifier:toThreads', this.#files[chunk[0]!]!.path)
    }
    this.#queue.push(chunk)
    this.#pump()
  }

  /**
   * Hashes what the threads have not taken, here, a chunk at a time; resolves once every chunk is answered. A
   * failure (a verdict's listener that throws: a caller's progress callback), here or while a thread's answer is
   * read, stops the handing out of chunks, and the first one is thrown once the threads have answered what they
   * had: the call is never over while they still work for it.
   */
  async finish (): Promise<void> {
    try {
      while (this.#failure === undefined) {
        const chunk = this.#queue.pop()
        if (chunk === undefined) break
        this.#answer(chunk, hashFiles(this.#task(chunk)))
        // Let the threads' answers in (and hand them the next chunks) between two chunks hashed here.
        await new Promise(resolve => setImmediate(resolve))
      }
    } catch (error) {
      this.#fail(error)
    }
    await this.abandon()
    if (this.#failure !== undefined) throw this.#failure.error
  }

  /** A failure so far (a verdict's listener threw while a thread's answer was read): hand out nothing more. */
  get failed (): boolean {
    return this.#failure !== undefined
  }

  /** Hands out no more chunks and waits for the threads' answers to those they have. */
  async abandon (): Promise<void> {
    this.#queue.length = 0
    // allSettled, though no answer rejects (each catches its own failure): never over while one is still out.
    while (this.#answered.length > 0) await Promise.allSettled(this.#answered.splice(0))
  }

  #fail (error: unknown): void {
    this.#failure ??= { error }
    this.#queue.length = 0
  }

  #pump (): void {
    while (this.#sent < this.#limit && this.#queue.length > 0) {
      const chunk = this.#queue.shift()!
      this.#sent++
      const asked = this.#ctx.threads!.run<Uint8Array>(HASH_MODULE, 'hashFiles', { ...this.#task(chunk) },
        this.#threadCount)
      this.#answered.push(asked
        .then(answers => { this.#answer(chunk, answers) }, () => {}) // not answered: checkFile judges those files
        // Caught here, at once: the answer may come in while this thread is elsewhere (its stat pass), and a
        // rejection left for later would be an unhandled one.
        .catch((error: unknown) => { this.#fail(error) })
        .finally(() => {
          this.#sent--
          this.#pump()
        }))
    }
  }

  #answer (chunk: number[], answers: Uint8Array): void {
    // An answer that is not one byte per file of this chunk is not an answer for it: those files stay unproven. After
    // a failure the call is lost anyway: its listener hears no more.
    if (answers.length !== chunk.length || this.#failure !== undefined) return
    for (let k = 0; k < chunk.length; k++) if (answers[k] === HASHED_GOOD) this.#settle(chunk[k]!, GOOD_HASHED)
  }

  #task (chunk: number[]): HashTask {
    const task: HashTask = { paths: [], digests: [], sizes: [] }
    for (const i of chunk) {
      const f = this.#files[i]!
      task.paths.push(f.path)
      task.digests.push(f.digest)
      task.sizes.push(f.size)
    }
    return task
  }
}
