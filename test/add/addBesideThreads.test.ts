// A folder's files shared between the calling thread and the store's threads (lib/add/addBesideThreads.ts): the
// calling thread never waits for a thread to boot, ready threads take tasks while it adds slices itself, one thread
// per core but its own works beside it, and a failed add leaves no temp file behind.
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { addFilesFromDir } from '../../lib/add/addFilesFromDir.js'
import { addBesideThreads, HERE_FILES, MIN_TASK_FILES, TASK_FILES, taskSize, THREAD_MIN_FILES, type AddedFile } from '../../lib/add/addBesideThreads.js'
import type { Approved } from '../../lib/add/openApproved.js'
import { createStoreContext } from '../../lib/context.js'
import { openStore } from '../../lib/index.js'
import { ThreadPool } from '../../lib/threads/threadPool.js'
import { contentOf } from '../helpers/content.js'
import { gate } from '../helpers/gate.js'
import { contextOnPool, threadsFirst, THREAD_STORES } from '../helpers/threads.js'
import { listFiles, tempDir } from '../helpers/tmp.js'

afterEach(() => { vi.restoreAllMocks() })

/** `count` files in a fresh folder, as the walk approves them. */
function approvedFolder (count: number, seed: string): Approved[] {
  const dir = tempDir()
  return Array.from({ length: count }, (_, i) => {
    const file = path.join(dir, `f${i}.js`)
    fs.writeFileSync(file, contentOf(seed, i, 100 + (i * 53) % 2000))
    const { dev, ino } = fs.statSync(file)
    return { realPath: file, dev, ino }
  })
}

/** The root of a new, empty store (its folders made), closed again. */
async function storeRoot (): Promise<string> {
  const store = await openStore(tempDir(), { threads: 0 })
  await store.close()
  return store.root
}

/** What the same files give on the calling thread alone (a store context without threads). */
async function addedAlone (files: Approved[]): Promise<AddedFile[]> {
  const ctx = createStoreContext({ root: await storeRoot(), fsync: false })
  try {
    return await addBesideThreads(ctx, files)
  } finally {
    ctx.lock.close()
  }
}

/** The module the store's threads run folder adds from (as `addBesideThreads` names it). */
const ADD_TASKS = new URL('../../lib/add/addDirInThread.ts', import.meta.url)

const digests = (added: AddedFile[]): string[] => added.map(a => `${a.digest} ${a.size} ${a.mode}`)

/** A pool that records the size of each add task it is given, and can fail them all. */
class AddTaskPool extends ThreadPool {
  tasks: number[] = []
  /** Each task's files (their real paths). */
  taskFiles: string[][] = []
  failAdds = false
  /** Threads that cannot load the add's module: `prepare` fails. */
  failReady = false
  /** Resolves once the first add task is answered. */
  readonly firstAnswered: Promise<void>
  #answered!: () => void

  constructor (size: number, closeModule: URL) {
    super(size, closeModule)
    this.firstAnswered = new Promise(resolve => { this.#answered = resolve })
  }

  override async runOnEach<T>(module: URL, fn: string, payload: unknown, threads?: number): Promise<T[]> {
    if (fn === 'ready' && this.failReady) throw new Error('the module could not be loaded')
    return await super.runOnEach<T>(module, fn, payload, threads)
  }

  override async run<T>(module: URL, fn: string, payload: unknown, threads?: number): Promise<T> {
    if (fn !== 'addApprovedFiles') return await super.run<T>(module, fn, payload, threads)
    const files = (payload as { files: Approved[] }).files
    this.tasks.push(files.length)
    this.taskFiles.push(files.map(f => f.realPath))
    if (this.failAdds) throw new Error('this thread died')
    const answer = await super.run<T>(module, fn, payload, threads)
    this.#answered()
    return answer
  }
}

describe('who adds what', () => {
  it('threads not ready yet: the calling thread adds every file itself, without waiting for them', async () => {
    vi.spyOn(os, 'availableParallelism').mockReturnValue(2) // one thread beside this one
    const files = approvedFolder(700, 'not-ready')
    const ready = gate()
    let handedOff = 0
    const pool = new AddTaskPool(2, THREAD_STORES)
    const { ctx, done } = contextOnPool(await storeRoot(), pool, {
      'add:threadsReady': ready.wait, // held until the add is over: the add must not count them ready before
      'add:handedOff': () => { handedOff++ },
    })
    // Booted and loaded already: only the add's own readiness (after its pause point) is missing.
    expect(await ctx.threads!.prepare(ADD_TASKS, 1)).toBe(true)
    const added = await addBesideThreads(ctx, files)
    expect(digests(added)).toEqual(digests(await addedAlone(files)))
    expect(pool.tasks).toEqual([])
    expect(handedOff).toBe(0)
    ready.open()
    await done()
  }, 60_000)

  it('ready threads take tasks of TASK_FILES files while the calling thread adds slices of HERE_FILES', async () => {
    const files = approvedFolder(TASK_FILES * 8 + HERE_FILES + 40, 'shared')
    const here: string[] = []
    const pool = new AddTaskPool(2, THREAD_STORES)
    const first = threadsFirst()
    const { ctx, done } = contextOnPool(await storeRoot(), pool, {
      ...first,
      'add:here': async info => { here.push(info.path); await first['add:here']!(info) },
    })
    const added = await addBesideThreads(ctx, files)
    expect(digests(added)).toEqual(digests(await addedAlone(files)))
    // The first two slices went to the thread (two tasks posted per thread); the third was the calling thread's.
    expect(pool.tasks.slice(0, 2)).toEqual([TASK_FILES, TASK_FILES])
    expect(here).toContain(files[TASK_FILES * 2]!.realPath)
    // Near the end, tasks shrink to a quarter of the files left (at least MIN_TASK_FILES), so the thread never
    // holds more work than this thread has left: every task has exactly the size the files left called for.
    const at = new Map(files.map((f, i) => [f.realPath, i]))
    for (const task of pool.taskFiles) {
      const from = at.get(task[0]!)!
      expect(task).toHaveLength(Math.min(files.length - from, taskSize(files.length - from)))
    }
    expect(taskSize(TASK_FILES * 4)).toBe(TASK_FILES)
    expect(taskSize(TASK_FILES)).toBe(TASK_FILES / 4)
    expect(taskSize(10)).toBe(MIN_TASK_FILES)
    for (const a of added) expect(fs.statSync(path.join(ctx.root, 'files', a.digest.slice(0, 2), a.digest.slice(2))).size).toBe(a.size)
    expect(listFiles(path.join(ctx.root, 'tmp'))).toEqual([])
    await done()
  }, 60_000)

  it('one thread per core but the calling thread\'s: 2 cores start 1 of 2 threads, 8 cores both', async () => {
    for (const [cores, running] of [[2, 1], [8, 2]] as const) {
      vi.spyOn(os, 'availableParallelism').mockReturnValue(cores)
      const files = approvedFolder(TASK_FILES * 3, `cores-${cores}`)
      const pool = new AddTaskPool(2, THREAD_STORES)
      const { ctx, done } = contextOnPool(await storeRoot(), pool, threadsFirst())
      await addBesideThreads(ctx, files)
      expect(pool.running).toBe(running)
      await done()
      vi.restoreAllMocks()
    }
  }, 60_000)

  it('a thread that answered has room again: the calling thread then hands it its next slice', async () => {
    const files = approvedFolder(TASK_FILES * 6, 'room-again')
    const pool = new AddTaskPool(2, THREAD_STORES)
    const first = threadsFirst()
    const { ctx, done } = contextOnPool(await storeRoot(), pool, {
      ...first,
      // The calling thread's first slice of its own waits until the thread answered its first task (and the
      // answer was taken in: one event-loop turn).
      'add:here': async info => {
        await first['add:here']!(info)
        if (info.path !== files[TASK_FILES * 2]!.realPath) return
        await pool.firstAnswered
        await new Promise(resolve => setImmediate(resolve))
      },
    })
    await addBesideThreads(ctx, files)
    expect(pool.taskFiles.length).toBeGreaterThanOrEqual(3)
    expect(pool.taskFiles[2]![0]).toBe(files[TASK_FILES * 2]!.realPath)
    await done()
  }, 60_000)

  it('a folder of exactly THREAD_MIN_FILES files is shared (its threads start)', async () => {
    const pool = new AddTaskPool(2, THREAD_STORES)
    const { ctx, done } = contextOnPool(await storeRoot(), pool)
    await addBesideThreads(ctx, approvedFolder(THREAD_MIN_FILES, 'at-min'))
    expect(pool.running).toBeGreaterThan(0)
    await done()
  }, 60_000)

  it('threads that cannot get ready are never counted ready: the add is done here, the ready point never reached', async () => {
    let readyReached = 0
    const pool = new AddTaskPool(2, THREAD_STORES)
    pool.failReady = true
    const { ctx, done } = contextOnPool(await storeRoot(), pool, { 'add:threadsReady': () => { readyReached++ } })
    const files = approvedFolder(300, 'never-ready')
    const added = await addBesideThreads(ctx, files)
    expect(added.every(a => a.digest.length === 128)).toBe(true)
    expect(await ctx.threads!.prepare(ADD_TASKS, 1)).toBe(false) // settled: its `then` in the add has run
    await new Promise(resolve => setImmediate(resolve))
    expect(readyReached).toBe(0)
    expect(pool.tasks).toEqual([])
    await done()
  }, 60_000)

  it('a folder under THREAD_MIN_FILES never starts a thread', async () => {
    const pool = new AddTaskPool(2, THREAD_STORES)
    const { ctx, done } = contextOnPool(await storeRoot(), pool)
    await addBesideThreads(ctx, approvedFolder(63, 'small'))
    expect(pool.running).toBe(0)
    await done()
  }, 60_000)
})

describe('when threads fail', () => {
  it('a thread that fails its tasks leaves their files to the calling thread: same results, each redone here', async () => {
    const files = approvedFolder(TASK_FILES + 100, 'dies')
    let redone = 0
    const pool = new AddTaskPool(2, THREAD_STORES)
    pool.failAdds = true
    const { ctx, done } = contextOnPool(await storeRoot(), pool, threadsFirst({ 'add:redoneHere': () => { redone++ } }))
    const added = await addBesideThreads(ctx, files)
    expect(digests(added)).toEqual(digests(await addedAlone(files)))
    expect(pool.tasks.length).toBeGreaterThan(0)
    expect(redone).toBe(pool.tasks.reduce((sum, n) => sum + n, 0))
    await done()
  }, 60_000)

  it('an add that fails removes the temp files its threads wrote for files it did not finish', async () => {
    const files = approvedFolder(TASK_FILES * 2 + 100, 'fails')
    // The first file changes after the walk approved it: the thread cannot add it, the calling thread then fails
    // on it (ERR_CAS_FILE_CHANGED) before it finishes any of that task's other files, written to temp files.
    fs.writeFileSync(`${files[0]!.realPath}.new`, 'another file now') // a new inode while the old one still lives
    fs.renameSync(`${files[0]!.realPath}.new`, files[0]!.realPath)
    const { ctx, done } = contextOnPool(await storeRoot(), new AddTaskPool(2, THREAD_STORES), threadsFirst())
    await expect(addBesideThreads(ctx, files)).rejects.toMatchObject({ code: 'ERR_CAS_FILE_CHANGED' })
    expect(listFiles(path.join(ctx.root, 'tmp'))).toEqual([])
    await done()
  }, 60_000)
})

it('addFilesFromDir starts the threads before it walks the folder: they boot while it walks', async () => {
  let runningWhenWalked = -1
  const pool = new AddTaskPool(2, THREAD_STORES)
  const { ctx, done } = contextOnPool(await storeRoot(), pool, {
    'add:walked': () => { runningWhenWalked = pool.running },
  })
  const src = path.dirname(approvedFolder(10, 'walk')[0]!.realPath)
  await addFilesFromDir(ctx, src)
  expect(runningWhenWalked).toBeGreaterThan(0)
  await done()
}, 60_000)

it('a long walk lets the event loop run (the threads\' answers get in while it walks)', async () => {
  const src = path.dirname(approvedFolder(3, 'turns')[0]!.realPath)
  for (let d = 0; d < 3; d++) fs.mkdirSync(path.join(src, `d${d}`))
  const root = await storeRoot()
  let clock = 0
  vi.spyOn(performance, 'now').mockImplementation(() => (clock += 10)) // every folder takes 10 ms
  let turned = false
  setImmediate(() => { turned = true })
  let turnedWhenWalked: boolean | undefined
  const ctx = createStoreContext({ root, fsync: false, hooks: { 'add:walked': () => { turnedWhenWalked = turned } } })
  await addFilesFromDir(ctx, src)
  expect(turnedWhenWalked).toBe(true)
  ctx.lock.close()
})
