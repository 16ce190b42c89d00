// The store's thread pool: lazy, shared fairly, never keeping a process alive, surviving a dead thread, and
// refusing the one thing a store thread must not do (take an OS lock: fs-ext crashes a process loaded twice).
import path from 'node:path'
import { pathToFileURL } from 'node:url'
import { describe, expect, it } from 'vitest'
import { ThreadPool } from '../../lib/threads/threadPool.js'
import { runFixture } from '../helpers/child.js'
import { tempDir } from '../helpers/tmp.js'

const tasks = pathToFileURL(path.join(import.meta.dirname, '..', 'fixtures', 'threadTasks.ts'))
const closer = pathToFileURL(path.join(import.meta.dirname, '..', '..', 'lib', 'threads', 'threadStores.ts'))

describe('ThreadPool', () => {
  it('starts no thread until the first task, then runs tasks on every thread', async () => {
    const pool = new ThreadPool(2, closer)
    expect(pool.running).toBe(0)
    const answers = await pool.runOnEach<{ threadId: number }>(tasks, 'echo', 'hi')
    expect(pool.running).toBe(2)
    expect(new Set(answers.map(a => a.threadId)).size).toBe(2)
    const many = await Promise.all(Array.from({ length: 8 }, async (_, i) => await pool.run<{ payload: number }>(tasks, 'echo', i)))
    expect(many.map(a => a.payload)).toEqual([0, 1, 2, 3, 4, 5, 6, 7])
    await pool.close()
    expect(pool.running).toBe(0)
  }, 60_000)

  it('runOnEach limited to the first threads starts only those and runs on each of them once', async () => {
    const pool = new ThreadPool(3, closer)
    const one = await pool.runOnEach<{ threadId: number }>(tasks, 'echo', 'a', 1)
    expect(one).toHaveLength(1)
    expect(pool.running).toBe(1)
    const two = await pool.runOnEach<{ threadId: number }>(tasks, 'echo', 'b', 2)
    expect(pool.running).toBe(2)
    expect(two.map(a => a.threadId)[0]).toBe(one[0]!.threadId)
    expect(new Set(two.map(a => a.threadId)).size).toBe(2)
    expect(await pool.runOnEach(tasks, 'echo', 'c', 9)).toHaveLength(3) // capped at the pool's size
    expect(await pool.runOnEach(tasks, 'echo', 'd', 1)).toHaveLength(1) // three run: still the first one only
    await pool.close()
  }, 60_000)

  it('calls beforeStart just before it creates threads, each time it does, and never for a pool left unused', async () => {
    const seen: number[] = []
    const pool = new ThreadPool(2, closer, () => seen.push(pool.running))
    expect(seen).toEqual([])
    await pool.runOnEach(tasks, 'echo', 0)
    await pool.run(tasks, 'echo', 1)
    expect(seen).toEqual([0])
    await pool.close()
    const unused = new ThreadPool(1, closer, () => seen.push(-1))
    await unused.close()
    expect(seen).toEqual([0])
    const inSteps = new ThreadPool(2, closer, () => seen.push(10 + inSteps.running))
    await inSteps.run(tasks, 'echo', 0, 1)
    await inSteps.run(tasks, 'echo', 1, 1) // its one thread runs already: nothing created, no call
    await inSteps.run(tasks, 'echo', 2) // the second thread is created now
    expect(seen).toEqual([0, 10, 11])
    await inSteps.close()
  }, 60_000)

  it('a task limited to `threads` runs on those only, and starts no other thread', async () => {
    const pool = new ThreadPool(2, closer)
    const first = await Promise.all(Array.from({ length: 6 }, async (_, i) =>
      await pool.run<{ threadId: number }>(tasks, 'echo', i, 1)))
    expect(pool.running).toBe(1)
    expect(new Set(first.map(a => a.threadId)).size).toBe(1)
    const all = await pool.runOnEach<{ threadId: number }>(tasks, 'echo', 'both')
    expect(pool.running).toBe(2)
    // Both threads run now; tasks limited to one thread still go to the first one only, even while it is busy.
    const again = await Promise.all(Array.from({ length: 6 }, async (_, i) =>
      await pool.run<{ threadId: number }>(tasks, 'echo', i, 1)))
    expect(new Set(again.map(a => a.threadId))).toEqual(new Set([all[0]!.threadId]))
    await pool.close()
  }, 60_000)

  it('a thread\'s next task waits in its own queue: it starts while the calling thread is too busy to post it', async () => {
    const pool = new ThreadPool(1, closer)
    await pool.runOnEach(tasks, 'echo', 0) // started, and the tasks module loaded
    const flag = new SharedArrayBuffer(4)
    const first = pool.run(tasks, 'sleepSync', 50)
    const second = pool.run(tasks, 'setFlag', flag)
    // This thread now blocks without an event-loop turn until the second task has run: only a task posted
    // already can run meanwhile. Posted only once the first one's answer is read, it never would (timed out).
    expect(Atomics.wait(new Int32Array(flag), 0, 0, 30_000)).not.toBe('timed-out')
    await first
    await second
    await pool.close()
  }, 60_000)

  it('when a limited task\'s thread has died, the next live thread stands in for it', async () => {
    const pool = new ThreadPool(2, closer)
    const [first, second] = await pool.runOnEach<{ threadId: number }>(tasks, 'echo', 0)
    await expect(pool.run(tasks, 'die', undefined, 1)).rejects.toThrow(/exited/) // the first thread ends
    expect(pool.running).toBe(1)
    const after = await pool.run<{ threadId: number }>(tasks, 'echo', 1, 1)
    expect(after.threadId).toBe(second!.threadId)
    expect(after.threadId).not.toBe(first!.threadId)
    expect(pool.running).toBe(1) // a dead thread is not replaced
    await pool.close()
  }, 60_000)

  it('a task that throws rejects with its message; the thread goes on serving', async () => {
    const pool = new ThreadPool(1, closer)
    await expect(pool.run(tasks, 'fail', undefined)).rejects.toThrow(/fails on purpose/)
    expect(await pool.run<{ payload: string }>(tasks, 'echo', 'after')).toMatchObject({ payload: 'after' })
    await pool.close()
  }, 60_000)

  it('a thread that dies fails only its own task; the others keep working, and with none left tasks fail', async () => {
    const pool = new ThreadPool(2, closer)
    await pool.runOnEach(tasks, 'echo', 0)
    await expect(pool.run(tasks, 'die', undefined)).rejects.toThrow(/exited/)
    expect(pool.running).toBe(1)
    expect(await pool.run<{ payload: number }>(tasks, 'echo', 5)).toMatchObject({ payload: 5 })
    await expect(pool.run(tasks, 'die', undefined)).rejects.toThrow(/exited/)
    expect(pool.running).toBe(0)
    await pool.close()
  }, 60_000)

  it('a store thread that tries to take an OS lock gets an error, not a crashed process', async () => {
    const pool = new ThreadPool(2, closer)
    const file = path.join(tempDir(), 'x.lock')
    const tries = await Promise.allSettled([pool.run(tasks, 'takeOsLock', file), pool.run(tasks, 'takeOsLock', file)])
    for (const attempt of tries) {
      expect(attempt.status).toBe('rejected')
      expect(String((attempt as PromiseRejectedResult).reason)).toMatch(/must be handed to the calling thread/)
    }
    await pool.close()
  }, 60_000)

  it('after close, run fails with ERR_CAS_CLOSED', async () => {
    const pool = new ThreadPool(1, closer)
    await pool.close()
    await expect(pool.run(tasks, 'echo', 1)).rejects.toMatchObject({ code: 'ERR_CAS_CLOSED' })
  })

  it('idle threads never keep a process alive: a store that added with threads and was never closed exits', async () => {
    const child = runFixture('threadsNoClose.ts', [tempDir()])
    const line = await child.line(l => l.startsWith('{'))
    expect(JSON.parse(line)).toMatchObject({ files: 100 })
    expect(await child.exited).toMatchObject({ code: 0 })
  }, 60_000)

  it('a store closed while its threads still boot closes, and the process exits 0 (not 13, close() unsettled)', async () => {
    for (let i = 0; i < 3; i++) {
      const child = runFixture('threadsCloseEarly.ts', [tempDir()])
      const exited = await child.exited
      expect(child.lines).toContain('{"closed":true}')
      expect(exited).toMatchObject({ code: 0 })
    }
  }, 60_000)
})
