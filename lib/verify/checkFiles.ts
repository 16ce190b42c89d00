import type { StoreContext } from '../context.js'
import { siblingModule } from '../threads/threadStores.js'
import { reach } from '../util/hooks.js'
import { checkFile, fastVerdict, GOOD_HASHED, type CheckPolicy, type FileVerdict } from './checkFile.js'
import { HASHED_GOOD, type HashTask } from './hashInThread.js'

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
  /** Told each file's verdict as soon as it is final (`at`: its place in `files`), in no particular order. */
  onVerdict?: (at: number, verdict: FileVerdict) => void
}

/**
 * Fewer files to hash than this and the calling thread hashes them itself: handing a file to a thread and reading
 * its answer costs about what hashing a few small files does (the bulk adds use the same bar).
 */
export const MIN_THREAD_BATCH = 64

/** Files per task sent to a thread: enough that a message costs little per file, few enough to share work out. */
const CHUNK = 128

const HASH_MODULE = siblingModule(import.meta.url, 'hashInThread')

/**
 * Verdicts for many content files at once (in the order of `files`), by exactly {@link checkFile}'s rules, faster:
 * 1. the fast path (one synchronous stat, no promise) settles every file untouched since it was known good, and
 *    every missing one;
 * 2. with `threads`, the files left are hashed lock-free by the store's threads, handed over 128 at a time while
 *    the stat pass goes on; a thread can only prove a file good (`hashInThread.ts`);
 * 3. every file not proven good by then goes through {@link checkFile} on this thread, one after another: it looks
 *    again, and removes nothing unless proven wrong under the path lock. So does every file of a task that failed
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
  const threads = options.threads ? ctx.threads : undefined
  const left: number[] = []
  const asked: Array<Promise<void>> = []
  let pending: number[] = []
  const ask = async (chunk: number[]): Promise<void> => {
    if (asked.length === 0) await reach(ctx.hooks, 'verifier:toThreads', files[chunk[0]!]!.path)
    asked.push(hashInThreads(ctx, files, chunk).then(answers => {
      for (let k = 0; k < chunk.length; k++) if (answers[k] === HASHED_GOOD) settle(chunk[k]!, GOOD_HASHED)
    }, () => {})) // not answered: this thread checks those files below
  }
  for (let i = 0; i < files.length; i++) {
    const f = files[i]!
    const fast = fastVerdict(f.path, f.size, f.checkedAt, policy)
    if (fast !== undefined) {
      settle(i, fast)
      continue
    }
    left.push(i)
    if (threads === undefined) continue
    pending.push(i)
    if (pending.length === CHUNK) {
      await ask(pending)
      pending = []
      // Let the event loop hand out the next task to a thread that has answered, while the stat pass goes on.
      await new Promise(resolve => setImmediate(resolve))
    }
  }
  if (pending.length > 0 && (asked.length > 0 || pending.length >= MIN_THREAD_BATCH)) await ask(pending)
  await Promise.all(asked)
  for (const i of left) {
    if (verdicts[i] !== undefined) continue
    const f = files[i]!
    settle(i, await checkFile(ctx, f.path, f.digest, f.size, f.checkedAt, policy))
  }
  return verdicts as FileVerdict[]
}

/** The threads' answers for the files at `chunk` (one byte each); rejects when no thread could answer. */
async function hashInThreads (ctx: StoreContext, files: FileToCheck[], chunk: number[]): Promise<Uint8Array> {
  const task: HashTask = { paths: [], digests: [], sizes: [] }
  for (const i of chunk) {
    const f = files[i]!
    task.paths.push(f.path)
    task.digests.push(f.digest)
    task.sizes.push(f.size)
  }
  return await ctx.threads!.runReading<Uint8Array>(HASH_MODULE, 'hashFiles', { ...task })
}
