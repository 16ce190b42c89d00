// A store's threads as the calling thread sees them: `prepare` boots them and loads the module ahead of the
// first task, every task gets the store's spec, and each thread's temp-owner record is held from the thread's
// creation to close (store threads take no OS lock, so without them `cas prune` would judge their temps dead).
import fs from 'node:fs'
import path from 'node:path'
import { pathToFileURL } from 'node:url'
import { describe, expect, it } from 'vitest'
import { OWNER_SUFFIX } from '../../lib/layout/tempName.js'
import { OWNERS_DIR, tempWriterAlive } from '../../lib/lock/tempOwner.js'
import { StoreThreads } from '../../lib/threads/storeThreads.js'
import { ThreadPool } from '../../lib/threads/threadPool.js'
import { siblingModule } from '../../lib/threads/threadStores.js'
import { tempDir } from '../helpers/tmp.js'

const tasks = pathToFileURL(path.join(import.meta.dirname, '..', 'fixtures', 'threadTasks.ts'))
const threadStores = siblingModule(pathToFileURL(path.join(import.meta.dirname, '..', '..', 'lib', 'threads', 'x.ts')).href, 'threadStores')

function storeThreads (size = 2): { threads: StoreThreads, pool: ThreadPool, root: string } {
  const root = tempDir()
  const pool = new ThreadPool(size, threadStores)
  return { threads: new StoreThreads(pool, { root, fsync: false }), pool, root }
}

describe('StoreThreads', () => {
  it('prepare starts every thread and has it run the module\'s `ready` before any task', async () => {
    const { threads, pool } = storeThreads()
    expect(await threads.prepare(tasks)).toBe(true)
    const answers = await Promise.all([
      threads.run<{ readyCalls: number }>(tasks, 'readyCount', {}),
      threads.run<{ readyCalls: number }>(tasks, 'readyCount', {}),
    ])
    expect(pool.running).toBe(2)
    expect(answers.map(a => a.readyCalls)).toEqual([1, 1])
    await threads.close()
  }, 60_000)

  it('a task gets the store\'s spec beside its own payload', async () => {
    const { threads, root } = storeThreads(1)
    const answer = await threads.run<{ payload: unknown }>(tasks, 'echo', { files: ['a'] })
    expect(answer.payload).toEqual({ store: { root, fsync: false }, files: ['a'] })
    await threads.close()
  }, 60_000)

  it('holds each thread\'s owner record from its first task (no prepare) until close, then lets it go', async () => {
    const { threads, pool, root } = storeThreads()
    await threads.run(tasks, 'echo', {})
    const ids = await pool.runOnEach<string>(threadStores, 'threadOwnerId', undefined)
    expect(new Set(ids).size).toBe(2)
    for (const id of ids) expect(tempWriterAlive(root, id + OWNER_SUFFIX)).toBe(true)
    await threads.close()
    expect(pool.running).toBe(0)
    for (const id of ids) expect(tempWriterAlive(root, id + OWNER_SUFFIX)).toBeUndefined() // released and removed
  }, 60_000)

  it('prepare and run limited to the first threads start only those, and hold only their owner records', async () => {
    const { threads, pool, root } = storeThreads()
    expect(await threads.prepare(tasks, 1)).toBe(true)
    expect(await threads.prepare(tasks, 1)).toBe(true) // asked again: the first call's answer, no second `ready`
    expect(pool.running).toBe(1)
    const [first] = await pool.runOnEach<string>(threadStores, 'threadOwnerId', undefined, 1)
    expect(tempWriterAlive(root, first! + OWNER_SUFFIX)).toBe(true)
    expect((await threads.run<{ readyCalls: number }>(tasks, 'readyCount', {}, 1)).readyCalls).toBe(1)
    expect(pool.running).toBe(1)
    // A task that may run on both: the second thread starts, and its record is held before the task runs.
    await threads.run(tasks, 'echo', {}, 2)
    const ids = await pool.runOnEach<string>(threadStores, 'threadOwnerId', undefined)
    expect(ids[0]).toBe(first)
    for (const id of ids) expect(tempWriterAlive(root, id + OWNER_SUFFIX)).toBe(true)
    await threads.close()
    for (const id of ids) expect(tempWriterAlive(root, id + OWNER_SUFFIX)).toBeUndefined()
  }, 60_000)

  it('prepare answers false, never rejects, when the threads cannot load the module; asked again, it tries again', async () => {
    const { threads } = storeThreads(1)
    const missing = pathToFileURL(path.join(import.meta.dirname, 'no-such-module.ts'))
    expect(await threads.prepare(missing)).toBe(false)
    expect(await threads.prepare(missing)).toBe(false)
    expect(await threads.prepare(tasks)).toBe(true)
    await threads.close()
  }, 60_000)

  it('prepare answers false when a thread\'s owner record cannot be held, even as its first call', async () => {
    const { threads, root } = storeThreads(1)
    fs.writeFileSync(path.join(root, OWNERS_DIR), 'a file where the owners folder goes')
    expect(await threads.prepare(tasks)).toBe(false)
    await threads.close()
  }, 60_000)

  it('prepare is remembered per module and thread count: asked for more threads, it starts and readies them', async () => {
    const { threads, pool } = storeThreads(2)
    expect(await threads.prepare(tasks, 1)).toBe(true)
    expect(pool.running).toBe(1)
    expect(await threads.prepare(tasks, 2)).toBe(true)
    expect(pool.running).toBe(2)
    await threads.close()
  }, 60_000)

  it('a prepare that failed is not remembered: the next one tries again (one dead boot does not turn threads off)', async () => {
    class FailsOnce extends ThreadPool {
      failed = false
      override async runOnEach<T>(module: URL, fn: string, payload: unknown, count?: number): Promise<T[]> {
        if (fn === 'ready' && !this.failed) {
          this.failed = true
          throw new Error('a thread died while booting')
        }
        return await super.runOnEach<T>(module, fn, payload, count)
      }
    }
    const threads = new StoreThreads(new FailsOnce(1, threadStores), { root: tempDir(), fsync: false })
    expect(await threads.prepare(tasks)).toBe(false)
    expect(await threads.prepare(tasks)).toBe(true)
    await threads.close()
  }, 60_000)

  it('a thread whose owner record cannot be held is dropped before it gets any task; the others go on', async () => {
    const { threads, pool, root } = storeThreads(2)
    const first = await threads.run<{ threadId: number }>(tasks, 'echo', {}, 1)
    fs.rmSync(path.join(root, OWNERS_DIR), { recursive: true, force: true })
    fs.writeFileSync(path.join(root, OWNERS_DIR), 'a file where the owners folder goes')
    // May run on either thread: the second one starts now, cannot hold its record, and must never run it.
    const answers = await Promise.all([1, 2, 3].map(async n => await threads.run<{ threadId: number }>(tasks, 'echo', { n }, 2)))
    expect(answers.map(a => a.threadId)).toEqual([first.threadId, first.threadId, first.threadId])
    expect(pool.running).toBe(1)
    await threads.close()
  }, 60_000)

  it('no task runs on a thread whose owner record cannot be held: run rejects with the reason', async () => {
    const { threads, root } = storeThreads(1)
    fs.writeFileSync(path.join(root, OWNERS_DIR), 'a file where the owners folder goes')
    await expect(threads.run(tasks, 'echo', {})).rejects.toMatchObject({ code: 'ERR_CAS_FILE_ACCESS' })
    expect(await threads.prepare(tasks)).toBe(false)
    await threads.close()
  }, 60_000)
})
