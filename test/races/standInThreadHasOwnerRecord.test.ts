// A thread that stands in for a dead one must write its temp files under a held owner record, like any other, or
// `cas prune` judges them dead (only their age protects them) and a short grace removes them under a running add.
// The stand-in may be a thread the verifier started, which never had a writing task before. Every thread's record
// is therefore held from the moment the pool creates it, and the pool gives a thread no task before that. Found by
// a review: before, the records were held for "the first N threads" once, and after a death the first N were
// other threads.
import path from 'node:path'
import { pathToFileURL } from 'node:url'
import { expect, it } from 'vitest'
import { OWNER_SUFFIX } from '../../lib/layout/tempName.js'
import { tempWriterAlive } from '../../lib/lock/tempOwner.js'
import { StoreThreads } from '../../lib/threads/storeThreads.js'
import { ThreadPool } from '../../lib/threads/threadPool.js'
import { THREAD_STORES } from '../helpers/threads.js'
import { tempDir } from '../helpers/tmp.js'

const tasks = pathToFileURL(path.join(import.meta.dirname, '..', 'fixtures', 'threadTasks.ts'))

it('a thread standing in for a dead one (started by the verifier) writes only with its owner record held', async () => {
  const root = tempDir()
  const pool = new ThreadPool(2, THREAD_STORES)
  const threads = new StoreThreads(pool, { root, fsync: false })
  await threads.run(tasks, 'echo', {}, 1) // an add's task: thread 0
  await threads.run(tasks, 'echo', {}) // a whole-store verify's hashing: starts thread 1
  await expect(pool.run(tasks, 'die', undefined, 1)).rejects.toThrow(/exited/) // thread 0 dies
  // The next add's task, limited to one thread, now runs on thread 1.
  const id = await threads.run<string>(THREAD_STORES, 'threadOwnerId', {}, 1)
  expect(tempWriterAlive(root, id + OWNER_SUFFIX)).toBe(true)
  await threads.close()
  expect(tempWriterAlive(root, id + OWNER_SUFFIX)).toBeUndefined() // released and removed with its store
}, 60_000)
