// Concurrent installs on one store (pnpm#7335, #10018, #12197, #14551): several processes write the same files
// while others verify them, starting from a store that holds corrupt copies of some. No writer may lose a file it
// was given, and nobody may see an error.
import fs from 'node:fs'
import path from 'node:path'
import { expect, it } from 'vitest'
import { openStore } from '../../lib/index.js'
import { runFixture } from '../helpers/child.js'
import { contentOf, corpusSizes, sha512Hex } from '../helpers/content.js'
import { tempDir } from '../helpers/tmp.js'

const COUNT = 120
const SEED = 'xproc'

it('writers and verifiers in separate processes, store pre-seeded with corrupt copies: no loss, no error', async () => {
  const dir = tempDir()
  const store = await openStore(dir)
  const sizes = corpusSizes(COUNT)
  const expected = sizes.map((size, i) => {
    const data = contentOf(SEED, i, size)
    return { data, path: store.filePathFor(sha512Hex(data), i % 3 === 0 ? 0o755 : 0o644) }
  })
  // Every third file starts out corrupt: right name, wrong bytes (same size for some, truncated for others).
  for (const [i, { data, path: file }] of expected.entries()) {
    if (i % 3 !== 1) continue
    fs.mkdirSync(path.dirname(file), { recursive: true })
    fs.writeFileSync(file, i % 2 === 0 ? Buffer.alloc(data.length, 1) : data.subarray(0, data.length - 1))
  }
  await store.close()

  const stopFile = path.join(dir, 'stop')
  const verifiers = [0, 1].map(() => runFixture('verifier.ts', [dir, SEED, String(COUNT), stopFile]))
  const writers = [0, 1, 2].map(() => runFixture('writer.ts', [dir, SEED, String(COUNT), '2']))
  const writerReports = await Promise.all(writers.map(async w => JSON.parse(await w.line(l => l.startsWith('{')))))
  fs.writeFileSync(stopFile, '')
  const verifierReports = await Promise.all(verifiers.map(async v => JSON.parse(await v.line(l => l.startsWith('{')))))

  for (const report of writerReports) expect(report).toEqual({ written: COUNT * 2, errors: [] })
  for (const report of verifierReports) {
    expect(report.errors).toEqual([])
    expect(report.rounds).toBeGreaterThan(0)
  }
  for (const { data, path: file } of expected) expect(fs.readFileSync(file).equals(data)).toBe(true)
  expect(fs.readdirSync(path.join(dir, 'v11', 'tmp'))).toEqual([])
})
