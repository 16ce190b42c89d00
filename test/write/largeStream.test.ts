// Streams are hashed while they are written: a 1 GiB file must not be buffered. Measured in a child process, so
// the growth of its peak RSS is this write's alone.
import fs from 'node:fs'
import { expect, it } from 'vitest'
import { openStore } from '../../lib/index.js'
import { runFixture } from '../helpers/child.js'
import { tempDir } from '../helpers/tmp.js'

it('a 1 GiB stream goes through ensureFile with peak RSS growing by at most 64 MiB', async () => {
  const dir = tempDir()
  const size = 1024 * 1024 * 1024
  const child = runFixture('bigStream.ts', [dir, String(size)], { env: { ...process.env, NODE_OPTIONS: '--expose-gc' } })
  const report = JSON.parse(await child.line(l => l.startsWith('{')))
  expect(report.gc).toBe(true)
  expect(report.size).toBe(size)
  expect(report.digest).toBe(report.expected)
  expect(report.rssGrowth).toBeLessThanOrEqual(64 * 1024 * 1024)
  const store = await openStore(dir)
  expect(fs.statSync(store.filePathFor(report.digest, 0o644)).size).toBe(size)
  await store.close()
}, 120_000)
