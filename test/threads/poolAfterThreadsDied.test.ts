// A pool whose every thread has died must fail the tasks it is given after that, not queue them for no thread:
// the verifier hands chunks to the pool as earlier ones come back, so it asks again after the last thread died.
import { expect, it } from 'vitest'
import { ThreadPool } from '../../lib/threads/threadPool.js'

it('a task given to a pool whose threads have all died is rejected, not left waiting forever', async () => {
  const pool = new ThreadPool(1, new URL('../../lib/threads/threadStores.ts', import.meta.url))
  const dies = new URL('../fixtures/threadDies.ts', import.meta.url)
  await expect(pool.run(dies, 'die', {})).rejects.toThrow(/exited/)
  expect(pool.running).toBe(0)
  await expect(pool.run(dies, 'die', {})).rejects.toThrow(/no store thread is left/)
  await pool.close()
}, 30_000)
