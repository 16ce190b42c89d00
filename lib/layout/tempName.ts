import crypto from 'node:crypto'
import path from 'node:path'
import { threadId, workerData } from 'node:worker_threads'

/*
 * Why each part of a temp name is there:
 * - pid: tells a human (and `cas verify`) which process left a temp file behind.
 * - thread id: worker threads share the pid; each thread has its own module state, so without it two threads'
 *   counters would produce the same name (seen in the wild as ENOENT on rename).
 * - counter: many async tasks of one thread write at once; the counter makes every call's name unique.
 * - random bytes, drawn once per thread: two containers on one mounted store can both be pid 1 with thread 0 and
 *   counter 0. 64 random bits make a collision between them vanishingly unlikely.
 * Uniqueness is what lets a writer own its temp file outright: nobody else ever opens, renames or removes it,
 * and the file is opened with O_EXCL ('wx') so a collision would fail loudly instead of sharing a file.
 */
const nonce = givenNonce() ?? newNonce()
let counter = 0

/**
 * A store thread's random part, drawn by the calling thread that started it (`threads/threadPool.ts`), so that
 * it knows the thread's owner id, and holds the owner record, before the thread exists (`threads/storeThreads.ts`).
 */
function givenNonce (): string | undefined {
  // Whoever passes it (another worker of the application too), 64 random-looking bits and the thread id keep the
  // owner id unique; anything else is ignored.
  const given = (workerData as { ownerNonce?: unknown } | null | undefined)?.ownerNonce
  return typeof given === 'string' && /^[0-9a-f]{16}$/.test(given) ? given : undefined
}

/** Suffix every cas-store temp file carries; `cas verify`/`prune` recognise leftovers by it. */
export const TEMP_SUFFIX = '.cas-tmp'

/** `<pid>-<thread>-<counter>-<random>`: never returned twice by any thread of any process. */
export function uniqueId (): string {
  counter = (counter + 1) % Number.MAX_SAFE_INTEGER
  return `${process.pid}-${threadId}-${counter.toString(36)}-${nonce}`
}

/** A fresh temp file path inside `tmpDir`, never returned twice by any thread of any process. */
export function tempPathFor (tmpDir: string): string {
  return path.join(tmpDir, uniqueId() + TEMP_SUFFIX)
}

/** Suffix of a writer's owner record in the temp folder (see `tempOwner.ts`). */
export const OWNER_SUFFIX = '.cas-owner'

/** `<pid>-<thread>-<random>`: the part of this thread's temp names that says who writes them. */
export function ownerId (): string {
  return ownerIdOf(threadId, nonce)
}

/** The owner id of thread `thread` of this process whose random part is `random`. */
export function ownerIdOf (thread: number, random: string): string {
  return `${process.pid}-${thread}-${random}`
}

/** A random part for a store thread about to be started (see `givenNonce`). */
export function newNonce (): string {
  return crypto.randomBytes(8).toString('hex')
}

/**
 * Suffix of an open store's import journal in the temp folder, `tmp/<unique id>.cas-imports` (see
 * `lock/importJournal.ts`): the temp folders its imports are making, next to their targets.
 */
export const IMPORT_JOURNAL_SUFFIX = '.cas-imports'

/** The owner id of a {@link uniqueId} (`<pid>-<thread>-<n>-<random>`), or undefined for any other string. */
export function ownerIdOfUniqueId (id: string): string | undefined {
  const m = /^(\d+)-(\d+)-[0-9a-z]+-([0-9a-f]+)$/.exec(id)
  return m === null ? undefined : `${m[1]}-${m[2]}-${m[3]}`
}

/**
 * The name of a download's own partial file in `partial/`: `<digest>.<unique id>.cas-tmp`. The digest says which
 * content it is (a later download of the same digest adopts it once its writer is dead, see `fetch/ownPartial.ts`);
 * the unique id says who writes it, like any temp name.
 */
export function ownPartialName (digest: string): string {
  return `${digest}.${uniqueId()}${TEMP_SUFFIX}`
}

const DIGEST_PREFIX = /^[0-9a-f]{128}\./

/**
 * The owner id of a temp file name made by {@link tempPathFor} or {@link ownPartialName}, or of an import journal's
 * name, or undefined for any other name.
 */
export function ownerIdOfTemp (name: string): string | undefined {
  const own = name.replace(DIGEST_PREFIX, '')
  for (const suffix of [TEMP_SUFFIX, IMPORT_JOURNAL_SUFFIX]) {
    if (own.endsWith(suffix)) return ownerIdOfUniqueId(own.slice(0, -suffix.length))
  }
  return undefined
}
