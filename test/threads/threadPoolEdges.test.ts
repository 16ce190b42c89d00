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

describe('ThreadPool: an answer out of turn', () => {
  it('drops the thread and fails its tasks, instead of handing one task\'s answer to another', async () => {
    const pool = new ThreadPool(1, closer)
    const rogue = pool.run(tasks, 'rogueAnswer', undefined)
    const next = pool.run(tasks, 'echo', 'next')
    await expect(rogue).rejects.toThrow(/out of turn/)
    await expect(next).rejects.toThrow(/out of turn/)
    expect(pool.running).toBe(0)
    await pool.close()
  }, 60_000)
})

describe('ThreadPool: a thread that dies', () => {
  it('leaves other threads\' queued tasks queued: they run when a live thread is free', async () => {
    const pool = new ThreadPool(2, closer)
    await pool.runOnEach(tasks, 'echo', 0)
    const release = path.join(tempDir(), 'release')
    const busy = pool.run<number>(tasks, 'busyUntil', release) // the first thread
    const dies = pool.run(tasks, 'die', undefined) // the second
    const busyToo = pool.run<number>(tasks, 'busyUntil', release) // waits on the first thread, posted to it
    const behindDeath = pool.run(tasks, 'echo', 'lost') // waits on the second: fails with it
    // Every thread has two tasks posted: this one stays in the pool's own queue.
    const queued = pool.run<{ payload: string }>(tasks, 'echo', 'queued')
    await expect(dies).rejects.toThrow(/exited/)
    await expect(behindDeath).rejects.toThrow(/exited/)
    expect(pool.running).toBe(1)
    fs.writeFileSync(release, '')
    await busy
    await busyToo
    expect(await queued).toMatchObject({ payload: 'queued' })
    await pool.close()
  }, 60_000)

  it('hands a task limited to the first thread to the next live one when the first dies', async () => {
    const pool = new ThreadPool(2, closer)
    const [, second] = await pool.runOnEach<{ threadId: number }>(tasks, 'echo', 0)
    const dies = pool.run(tasks, 'die', undefined, 1)
    const behindDeath = pool.run(tasks, 'echo', 1, 1)
    const queued = pool.run<{ threadId: number }>(tasks, 'echo', 2, 1) // in the pool's queue: the first thread is full
    await expect(dies).rejects.toThrow(/exited/)
    await expect(behindDeath).rejects.toThrow(/exited/)
    expect((await queued).threadId).toBe(second!.threadId) // answered, not left waiting for a thread that is gone
    await pool.close()
  }, 60_000)

  it('fails the tasks bound to it (runOnEach rejects instead of waiting forever)', async () => {
    const pool = new ThreadPool(2, closer)
    await pool.runOnEach(tasks, 'echo', 0)
    const release = path.join(tempDir(), 'release')
    const dies = pool.run(tasks, 'die', undefined) // the first thread
    const busy = pool.run(tasks, 'busyUntil', release) // the second
    const behindDeath = pool.run(tasks, 'echo', 'lost') // posted to the first, behind its death
    // The first thread has two tasks posted: its share of this one waits in the pool's queue, bound to it.
    const each = pool.runOnEach(tasks, 'echo', 1)
    await expect(dies).rejects.toThrow(/exited/)
    await expect(behindDeath).rejects.toThrow(/exited/)
    await expect(each).rejects.toThrow(/exited/)
    fs.writeFileSync(release, '')
    await busy
    await pool.close()
  }, 60_000)

  it('with no thread left, fails the queued tasks too', async () => {
    const pool = new ThreadPool(1, closer)
    const dies = pool.run(tasks, 'die', undefined)
    const behindDeath = pool.run(tasks, 'echo', 'posted')
    const queued = pool.run(tasks, 'echo', 'never') // the one thread has two tasks posted: this one is queued
    await expect(dies).rejects.toThrow(/exited/)
    await expect(behindDeath).rejects.toThrow(/exited/)
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
    const posted = pool.run(tasks, 'echo', 1)
    const queued = pool.run(tasks, 'echo', 2) // the thread has two tasks posted: this one is in the pool's queue
    const settled = Promise.allSettled([busy, posted, queued])
    await pool.close()
    for (const task of await settled) {
      expect(task).toMatchObject({ status: 'rejected', reason: { code: 'ERR_CAS_CLOSED' } })
    }
  }, 60_000)
})
