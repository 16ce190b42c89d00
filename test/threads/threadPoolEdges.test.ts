// The pool's edges, in the test process (where a mutation test can see them): which thread takes which task,
// what a thread's death fails and what it leaves queued, when a thread holds the process, how it is closed.
// Threads are kept busy with a task that waits for a file, never with a sleep.
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { pathToFileURL } from 'node:url'
import { Worker } from 'node:worker_threads'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { defaultThreads, ThreadPool } from '../../lib/threads/threadPool.js'
import { tempDir } from '../helpers/tmp.js'

const tasks = pathToFileURL(path.join(import.meta.dirname, '..', 'fixtures', 'threadTasks.ts'))
const closer = pathToFileURL(path.join(import.meta.dirname, '..', 'fixtures', 'threadCloser.ts'))

/** Threads that hold the event loop: a ref'd worker shows as one more active 'MessagePort'. */
function refdPorts (): number {
  return process.getActiveResourcesInfo().filter(r => r === 'MessagePort').length
}

/** Resolves once any worker has emitted `event` (and the pool's own listeners have run). */
async function workerEvent (event: string): Promise<void> {
  const emit = Worker.prototype.emit
  return await new Promise(resolve => {
    vi.spyOn(Worker.prototype, 'emit').mockImplementation(function (this: Worker, name: string | symbol, ...args: unknown[]) {
      const handled = emit.call(this, name, ...args)
      if (name === event) resolve()
      return handled
    })
  })
}

afterEach(() => {
  delete process.env.CAS_TEST_CLOSE_DIR
  delete process.env.CAS_TEST_CLOSE_EXIT
  vi.restoreAllMocks()
})

describe('defaultThreads', () => {
  it('is one per core, at most 4, and none on a single core', () => {
    const cores = vi.spyOn(os, 'availableParallelism')
    cores.mockReturnValue(1)
    expect(defaultThreads()).toBe(0)
    cores.mockReturnValue(2)
    expect(defaultThreads()).toBe(2)
    cores.mockReturnValue(3)
    expect(defaultThreads()).toBe(3)
    cores.mockReturnValue(16)
    expect(defaultThreads()).toBe(4)
  })
})

describe('ThreadPool: who takes which task', () => {
  it('a task bound to a busy thread waits for that thread; a free thread does not take it', async () => {
    const pool = new ThreadPool(2, closer)
    const [a] = await pool.runOnEach<{ threadId: number }>(tasks, 'echo', 0)
    const release = path.join(tempDir(), 'release')
    // The first free thread is the first one: keep it busy.
    const busy = pool.run<number>(tasks, 'busyUntil', release)
    const each = pool.runOnEach<{ threadId: number }>(tasks, 'echo', 1)
    let answered = false
    each.then(() => { answered = true }, () => {})
    // The other thread answers its own task at once; the busy thread's one waits for it.
    await pool.run(tasks, 'echo', 2)
    expect(answered).toBe(false)
    fs.writeFileSync(release, '')
    expect(await busy).toBe(a!.threadId)
    const answers = await each
    expect(new Set(answers.map(x => x.threadId)).size).toBe(2)
    await pool.close()
  }, 60_000)
})

describe('ThreadPool: two tasks posted to one thread', () => {
  it('run one after another: each answer goes to the task that asked, even when the second is quicker', async () => {
    const pool = new ThreadPool(1, closer)
    await pool.runOnEach(tasks, 'echo', 0)
    const slow = pool.run<string>(tasks, 'later', { ms: 100, value: 'slow' })
    const quick = pool.run<{ payload: string }>(tasks, 'echo', 'quick')
    expect(await slow).toBe('slow')
    expect((await quick).payload).toBe('quick')
    await pool.close()
  }, 60_000)
})

describe('ThreadPool: a thread that dies', () => {
  it('leaves other threads\' queued tasks queued: they run when a live thread is free', async () => {
    const pool = new ThreadPool(2, closer)
    await pool.runOnEach(tasks, 'echo', 0)
    const release = path.join(tempDir(), 'release')
    const busy = pool.run<number>(tasks, 'busyUntil', release)
    const dies = pool.run(tasks, 'die', undefined)
    const queued = pool.run<{ payload: string }>(tasks, 'echo', 'queued')
    await expect(dies).rejects.toThrow(/exited/)
    expect(pool.running).toBe(1)
    fs.writeFileSync(release, '')
    await busy
    expect(await queued).toMatchObject({ payload: 'queued' })
    await pool.close()
  }, 60_000)

  it('fails the tasks bound to it (runOnEach rejects instead of waiting forever)', async () => {
    const pool = new ThreadPool(2, closer)
    await pool.runOnEach(tasks, 'echo', 0)
    const dies = pool.run(tasks, 'die', undefined)
    const each = pool.runOnEach(tasks, 'echo', 1)
    await expect(dies).rejects.toThrow(/exited/)
    await expect(each).rejects.toThrow(/exited/)
    await pool.close()
  }, 60_000)

  it('with no thread left, fails the queued tasks too', async () => {
    const pool = new ThreadPool(1, closer)
    const dies = pool.run(tasks, 'die', undefined)
    const queued = pool.run(tasks, 'echo', 'never')
    await expect(dies).rejects.toThrow(/exited/)
    await expect(queued).rejects.toThrow(/exited/)
    expect(pool.running).toBe(0)
    await pool.close()
  }, 60_000)

  it('a crash (\'error\' then \'exit\') drops that one thread only, and the process goes on', async () => {
    const pool = new ThreadPool(2, closer)
    await pool.runOnEach(tasks, 'echo', 0)
    const exited = workerEvent('exit')
    await expect(pool.run(tasks, 'crash', undefined)).rejects.toThrow(/crashes on purpose/)
    // Its 'exit' follows its 'error': the second drop must not take the other thread with it.
    await exited
    expect(pool.running).toBe(1)
    expect(await pool.run<{ payload: number }>(tasks, 'echo', 7)).toMatchObject({ payload: 7 })
    await pool.close()
  }, 60_000)
})

describe('ThreadPool: holding the process', () => {
  it('a thread holds the event loop while it has a task, and lets go when idle', async () => {
    const pool = new ThreadPool(1, closer)
    await pool.run(tasks, 'echo', 0)
    const idle = refdPorts()
    const release = path.join(tempDir(), 'release')
    const busy = pool.run<number>(tasks, 'busyUntil', release)
    expect(refdPorts()).toBe(idle + 1)
    fs.writeFileSync(release, '')
    await busy
    expect(refdPorts()).toBe(idle)
    await pool.close()
  }, 60_000)
})

describe('ThreadPool: closing', () => {
  it('each thread runs the close module before it ends, and runOnEach after close fails with ERR_CAS_CLOSED', async () => {
    const marks = tempDir()
    process.env.CAS_TEST_CLOSE_DIR = marks
    const pool = new ThreadPool(2, closer)
    const ids = (await pool.runOnEach<{ threadId: number }>(tasks, 'echo', 0)).map(a => String(a.threadId))
    await pool.close()
    expect(fs.readdirSync(marks).sort()).toEqual(ids.sort())
    expect(pool.running).toBe(0)
    await expect(pool.runOnEach(tasks, 'echo', 1)).rejects.toMatchObject({ code: 'ERR_CAS_CLOSED' })
    expect(pool.running).toBe(0)
  }, 60_000)

  it('close() settles when a thread ends while closing instead of answering', async () => {
    process.env.CAS_TEST_CLOSE_EXIT = '1'
    const pool = new ThreadPool(2, closer)
    await pool.runOnEach(tasks, 'echo', 0)
    await pool.close()
    expect(pool.running).toBe(0)
  }, 60_000)

  it('close() waits for the thread\'s own "closed", not for the answer of a task it still had', async () => {
    const marks = tempDir()
    process.env.CAS_TEST_CLOSE_DIR = marks
    const pool = new ThreadPool(1, closer)
    const [first] = await pool.runOnEach<{ threadId: number }>(tasks, 'echo', 0) // the tasks module loaded
    // The thread is busy when "close" arrives; it answers these two before its close module is even loaded.
    const settled = Promise.allSettled([pool.run(tasks, 'sleepSync', 300), pool.run(tasks, 'echo', 1)])
    await pool.close()
    expect(fs.readdirSync(marks)).toEqual([String(first!.threadId)])
    await settled
  }, 60_000)

  it('rejects a running task and the queued ones with ERR_CAS_CLOSED', async () => {
    const pool = new ThreadPool(1, closer)
    await pool.run(tasks, 'echo', 0)
    const busy = pool.run(tasks, 'busyUntil', path.join(tempDir(), 'never'))
    const queued = pool.run(tasks, 'echo', 1)
    const settled = Promise.allSettled([busy, queued])
    await pool.close()
    for (const task of await settled) {
      expect(task).toMatchObject({ status: 'rejected', reason: { code: 'ERR_CAS_CLOSED' } })
    }
  }, 60_000)
})
