// A store keeps its lock descriptors open for a moment between locks (an open per lock costs more than the lock).
// Those idle descriptors must never be what a starting thread lacks: out of descriptors, a worker fails to start
// (ERR_WORKER_INIT_FAILED, and the verb runs on one core), and when run from TypeScript the thread's loader
// hung for good (1 run in 20 of the EMFILE test). The store gives them back just before its threads start.
import { expect, it } from 'vitest'
import { runFixture } from '../helpers/child.js'
import { tempDir } from '../helpers/tmp.js'
import { requireTool } from '../helpers/tools.js'

it('threads start even when the store\'s idle lock descriptors fill the descriptor table', async () => {
  requireTool('sh', 'dash', ['-c', 'ulimit -n 128'], 'it lowers the child\'s descriptor limit with `ulimit -n`')
  const child = runFixture('threadsOutOfDescriptors.ts', [tempDir()], {}, ['sh', '-c', 'ulimit -n 128 && exec "$@"', 'sh'])
  const report = JSON.parse(await child.line(l => l.startsWith('{'))) as Record<string, unknown>
  expect(report).toMatchObject({ full: true, passed: true })
  expect(report.files).toBeGreaterThanOrEqual(64) // enough files that the verify hands them to its threads
  expect(report.threadsStarted).toBeGreaterThanOrEqual(1) // a store thread (0 when none could start)
  expect((await child.exited).code).toBe(0)
}, 60_000)
