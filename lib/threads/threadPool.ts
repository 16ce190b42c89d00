import { createRequire } from 'node:module'
import os from 'node:os'
import { pathToFileURL } from 'node:url'
import { Worker } from 'node:worker_threads'
import type { ModuleUrl } from '../context.js'
import { StoreClosedError } from '../errors.js'
import { newNonce, ownerIdOf } from '../layout/tempName.js'

/**
 * Tasks posted to one thread at once: the one it runs, and the next one, waiting in the thread's own queue. With
 * one, a thread that finished a task waited for the calling thread's event loop to read the answer and post the
 * next, and a calling thread busy with its own work (decoding indexes, the locked steps) left it idle: `cas verify
 * --full` of the bench's 49,800 files took 495-507 ms with one and 470-478 ms with two (median of 6, tmpfs).
 */
export const POSTED_PER_THREAD = 2

/** The most threads a store starts, whatever `threads` asks (more only add memory and lock contention). */
export const MAX_THREADS = 8

/**
 * The default thread count: one per core the process may use (at most 4), none on a single core, where a thread
 * only adds start-up time and message passing on the same CPU.
 */
export function defaultThreads (): number {
  const cores = os.availableParallelism()
  return cores > 1 ? Math.min(cores, 4) : 0
}

interface Task {
  /** Set for a task that must run on this very thread ({@link ThreadPool.runOnEach}). */
  thread?: Thread
  /** Any other task runs on one of the pool's first `limit` threads ({@link ThreadPool.run}'s `threads`). */
  limit: number
  /** Set when posted: its answer must carry it. */
  id?: number
  module: string
  fn: string
  payload: unknown
  resolve: (value: unknown) => void
  reject: (err: Error) => void
}

interface Thread {
  worker: Worker
  /** Tasks posted to it, oldest first: it runs them one after another and answers in that order. */
  posted: Task[]
  /** Set once the thread has been told to close its stores: no more tasks go to it. */
  closing: boolean
  /** No task goes to it before this is set: once its `onStart` promise resolved (at once without a listener). */
  admitted: boolean
}

/** A thread's answer to one task (`id`: the task's), or to "close". */
type Reply = { id: number, ok: true, value: unknown } | { id: number, ok: false, message: string } | { closed: true }

/**
 * What a thread runs: a tiny CommonJS script (a worker's `eval` code needs no file and no loader), which loads
 * the task's module and calls the named export. Tasks run one after another in the order they were posted (a
 * second one may wait in the thread's queue), so answers come back in that order; "close" is handled at once.
 * When this library runs from its TypeScript sources (tests, the
 * CLI through tsx), the thread registers tsx first: a worker thread is a fresh isolate and inherits no loader.
 * Built (`dist/`), the modules are plain JavaScript and nothing is registered.
 */
const THREAD_SCRIPT = `
const { parentPort, workerData } = require('node:worker_threads')
const ready = workerData.tsx === undefined ? Promise.resolve() : import(workerData.tsx).then(m => m.register())
const modules = new Map()
const load = url => {
  let m = modules.get(url)
  if (m === undefined) { m = ready.then(() => import(url)); modules.set(url, m) }
  return m
}
let last = Promise.resolve()
let closing = false
const close = async url => {
  closing = true
  try { await (await load(url)).closeThreadStores() } catch {}
  parentPort.postMessage({ closed: true })
}
const run = async msg => {
  if (closing) return // the pool has already failed it: no work for nothing, no write cut short by the end
  try {
    const value = await (await load(msg.module))[msg.fn](msg.payload)
    parentPort.postMessage({ id: msg.id, ok: true, value })
  } catch (err) {
    parentPort.postMessage({ id: msg.id, ok: false, message: String(err && err.stack || err) })
  }
}
parentPort.on('message', msg => {
  if (msg.close !== undefined) close(msg.close)
  else last = last.then(() => run(msg)).catch(() => {})
})
`

/** The tsx loader to register in threads when running from `.ts` sources; undefined when built. */
function tsxLoader (): string | undefined {
  if (!import.meta.url.endsWith('.ts')) return undefined
  const api = createRequire(import.meta.url).resolve('tsx/esm/api')
  return pathToFileURL(api.replace(/\.cjs$/, '.mjs')).href
}

/**
 * A few worker threads for a store's bulk work (adding a folder's files, re-hashing for the verifier), so it uses
 * more than one core: for the small files of a package the cost is syscalls, and synchronous fs calls spread
 * over threads are the fast way to make many of them (two threads do ~1.5x one on a 2-core machine).
 *
 * A task names a module and an exported function; the thread imports the module (once) and calls the function,
 * so the work in a thread is the very code the calling thread would run, not a copy of it. A store thread takes
 * no OS lock (fs-ext is not safe in a second thread, see `lock/flock.ts`): the writer's locked steps are handed
 * to the calling thread, which runs them under its own path lock (`LockedStep` in `context.ts`).
 *
 * Why a small pool of our own rather than piscina or tinypool: one kind of use (a batch in, a plain answer out),
 * no routing, no idle timeout to tune; what matters is that threads start only when first needed, never keep the
 * process alive while idle (each is `unref`'d whenever it has no task), close their stores' lock descriptors
 * before they end (a terminated thread's descriptors would otherwise stay open in the process), and that a
 * thread that dies fails only the tasks posted to it (at most two), which the callers then do themselves.
 */
export class ThreadPool {
  readonly #size: number
  readonly #threads: Thread[] = []
  readonly #queue: Task[] = []
  readonly #closeModule: string
  readonly #beforeStart: (() => void) | undefined
  #onStart: ((ownerId: string) => Promise<void> | void) | undefined
  /** Threads created so far (dead ones included: a thread that died is not replaced). */
  #spawned = 0
  #nextId = 0
  #closed = false

  /**
   * `size`: the most threads this pool runs (1 to {@link MAX_THREADS}), each started when a task first needs it.
   * `closeModule`: the module whose `closeThreadStores` export each thread runs before it ends. `beforeStart`:
   * called just before the pool creates threads, each time it does (the store gives back its idle lock
   * descriptors there, see `store.ts`: a new thread needs descriptors of its own).
   */
  constructor (size: number, closeModule: ModuleUrl, beforeStart?: () => void) {
    this.#size = Math.max(1, Math.min(MAX_THREADS, Math.floor(size)))
    this.#closeModule = closeModule.href
    this.#beforeStart = beforeStart
  }

  /**
   * Calls `listener` with each thread's owner id (the one its temp names carry) as the thread is created. When it
   * returns a promise, the thread is given no task until that settles: once it resolves the thread works, and if
   * it rejects the thread is dropped (its tasks fail with that error, as for a thread that died). The store holds
   * the thread's owner record there (`storeThreads.ts`), so no thread ever writes a temp file without one.
   */
  onStart (listener: (ownerId: string) => Promise<void> | void): void {
    this.#onStart = listener
  }

  /** Threads this pool runs once started. */
  get size (): number {
    return this.#size
  }

  /** Threads running now (0 until the first task, and after close). */
  get running (): number {
    return this.#threads.length
  }

  /**
   * Runs `fn(payload)`, exported by `module`, in a thread; resolves with its return value (structured-cloned).
   * Rejects when the function throws (with its message: the error's class does not cross the boundary, so callers
   * redo failed work on their own thread to report the real error), when the thread dies, or when the pool closes.
   *
   * `threads` (default: all of them): the task runs on one of the pool's first `threads` threads, and only those
   * are started for it. A caller that works beside its threads (the verifier hashes on the calling thread too)
   * asks for no more than one fewer than the cores, so that no core runs two of them.
   */
  async run<T>(module: ModuleUrl, fn: string, payload: unknown, threads = this.#size): Promise<T> {
    if (this.#closed) throw new StoreClosedError()
    const limit = Math.max(1, Math.min(this.#size, Math.floor(threads)))
    this.#start(limit)
    // Every thread has died (their tasks failed with them): no thread would ever take this one. The caller does
    // the work itself, as for a thread that dies under its task.
    if (this.#threads.length === 0) throw new Error('no store thread is left: they all died')
    return await new Promise<T>((resolve, reject) => {
      const task = { module: module.href, fn, payload, limit, resolve: resolve as (value: unknown) => void, reject }
      this.#queue.push(task)
      this.#dispatch()
    })
  }

  /**
   * Runs `fn(payload)` once on every thread (starting them), or on the first `threads` only; resolves with their
   * answers in thread order.
   */
  async runOnEach<T>(module: ModuleUrl, fn: string, payload: unknown, threads = this.#size): Promise<T[]> {
    if (this.#closed) throw new StoreClosedError()
    const count = Math.max(1, Math.min(this.#size, Math.floor(threads)))
    this.#start(count)
    // As in `run`: with every thread dead, "each thread did it" would be true of none.
    if (this.#threads.length === 0) throw new Error('no store thread is left: they all died')
    const answers = this.#threads.slice(0, count).map(async thread => await new Promise<T>((resolve, reject) => {
      const settle = { resolve: resolve as (value: unknown) => void, reject }
      const task = { thread, limit: this.#size, module: module.href, fn, payload, ...settle }
      this.#queue.push(task)
    }))
    this.#dispatch()
    return await Promise.all(answers)
  }

  /** Lets every thread close its stores, then ends it; queued and running tasks are rejected. */
  async close (): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    for (const task of this.#queue.splice(0)) task.reject(new StoreClosedError())
    await Promise.all(this.#threads.map(async thread => {
      thread.closing = true
      for (const task of thread.posted.splice(0)) task.reject(new StoreClosedError())
      thread.worker.ref()
      // Answers of tasks it still had queued may come first: only its "closed" (or its end) counts.
      const closed = new Promise<void>(resolve => {
        thread.worker.on('message', (reply: Reply) => { if ('closed' in reply) resolve() })
        thread.worker.once('exit', () => resolve())
      })
      thread.worker.postMessage({ close: this.#closeModule })
      await closed
      await thread.worker.terminate()
    }))
    this.#threads.length = 0
  }

  /** Creates threads until `count` have been (never more than the pool's size, and never one to replace the dead). */
  #start (count: number): void {
    if (this.#spawned >= count) return
    this.#beforeStart?.()
    const tsx = tsxLoader()
    while (this.#spawned < count) this.#spawn(tsx)
  }

  #spawn (tsx: string | undefined): void {
    // `casStoreThread` marks the thread as one that must never take an OS lock (see `lock/flock.ts`).
    this.#spawned++
    const ownerNonce = newNonce()
    const worker = new Worker(THREAD_SCRIPT, { eval: true, workerData: { tsx, casStoreThread: true, ownerNonce } })
    const thread: Thread = { worker, posted: [], closing: false, admitted: this.#onStart === undefined }
    worker.on('message', (reply: Reply) => {
      if ('closed' in reply || thread.posted.length === 0) return // closing: its tasks were failed already
      // Answers come in the order the tasks were posted. One that does not is a thread gone wrong: trusting it
      // would hand one task's answer (a chunk's "hashed good" bytes) to another, so the thread is dropped.
      if (thread.posted[0]!.id !== reply.id) {
        drop(new Error(`a store thread answered task ${String(reply.id)} out of turn`))
        worker.terminate().catch(() => {})
        return
      }
      const task = thread.posted.shift()!
      if (reply.ok) task.resolve(reply.value)
      else task.reject(new Error(`a store thread failed: ${reply.message}`))
      this.#dispatch()
    })
    // A thread that dies (out of memory, a bug) is dropped; the tasks posted to it fail, and their callers do them
    // themselves. Tasks it could have taken go to the others: one limited to the first N threads may only now
    // have a live thread among them.
    const drop = (err: Error): void => {
      const at = this.#threads.indexOf(thread)
      if (at >= 0) this.#threads.splice(at, 1)
      for (const task of thread.posted.splice(0)) task.reject(err)
      // Tasks bound to it fail with it; so does everything once no thread is left.
      for (let i = this.#queue.length - 1; i >= 0; i--) {
        const task = this.#queue[i]!
        if (task.thread === thread || this.#threads.length === 0) {
          this.#queue.splice(i, 1)
          task.reject(err)
        }
      }
      this.#dispatch()
    }
    worker.on('error', drop)
    worker.on('exit', code => { if (!thread.closing) drop(new Error(`a store thread exited (code ${code})`)) })
    // After the listeners: a 'message' listener references the port again.
    worker.unref()
    this.#threads.push(thread)
    const admission = this.#onStart?.(ownerIdOf(worker.threadId, ownerNonce))
    if (admission === undefined) {
      thread.admitted = true
      return
    }
    admission.then(() => {
      thread.admitted = true
      this.#dispatch()
    }, err => {
      drop(err instanceof Error ? err : new Error(String(err)))
      worker.terminate().catch(() => {})
    })
  }

  #dispatch (): void {
    // First one task to each idle thread, then one more to each: a thread's next task already waits in its own
    // queue when it finishes one, so it never waits for this thread's event loop to read its answer.
    for (let depth = 1; depth <= POSTED_PER_THREAD; depth++) {
      for (let i = 0; i < this.#threads.length; i++) {
        const thread = this.#threads[i]!
        if (this.#queue.length === 0) break
        if (thread.posted.length >= depth || thread.closing || !thread.admitted) continue
        // `i < limit` counts the live threads: when one of a task's first threads has died, the next one stands in.
        const at = this.#queue.findIndex(task =>
          task.thread === thread || (task.thread === undefined && i < task.limit))
        if (at < 0) continue
        const task = this.#queue.splice(at, 1)[0]!
        task.id = this.#nextId++
        thread.posted.push(task)
        thread.worker.ref()
        thread.worker.postMessage({ id: task.id, module: task.module, fn: task.fn, payload: task.payload })
      }
    }
    // Idle threads must not keep the process alive; a closing one must, until it has closed its stores and ended
    // (unref'd while close() waits for it, the process exited with close() unsettled: exit 13).
    for (const thread of this.#threads) if (thread.posted.length === 0 && !thread.closing) thread.worker.unref()
  }
}
