// From a second read of the locks: lockTimeoutMs bounds the wait for a path lock. Tasks of this process queued on
// the same content path (same content written by two packages at once) must give up after lockTimeoutMs too, not
// one timeout after the other.
import { expect, it } from 'vitest'
import { openStore } from '../../lib/index.js'
import { runFixture } from '../helpers/child.js'
import { tempDir } from '../helpers/tmp.js'

it('four writers of one content, another process holding the stripe: each gives up within lockTimeoutMs', async () => {
  const dir = tempDir()
  await (await openStore(dir)).close()
  const holder = runFixture('holdStripes.ts', [dir])
  await holder.line(l => l === 'LOCKED')
  const timeoutMs = 400
  const store = await openStore(dir, { lockTimeoutMs: timeoutMs, threads: 0 })
  const data = Buffer.from('same content, four writers')
  const started = Date.now()
  const outcomes = await Promise.all(Array.from({ length: 4 }, async () => {
    const err = await store.ensureFile(data, { mode: 0o644 })
      .then(() => undefined, (e: unknown) => e) as { code?: string } | undefined
    return { code: err?.code, ms: Date.now() - started }
  }))
  holder.send('release')
  await holder.exited
  await store.close()
  for (const o of outcomes) expect(o.code).toBe('ERR_CAS_LOCK_TIMEOUT')
  // Generous slack for a busy machine: still well under two timeouts.
  const slowest = Math.max(...outcomes.map(o => o.ms))
  expect(slowest, JSON.stringify(outcomes)).toBeLessThan(timeoutMs * 2)
}, 60_000)
