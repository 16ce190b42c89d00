// Concurrent installs on one store (pnpm#7335, #10018, #12197, #14551): writers and verifiers in separate
// processes. Across processes only the OS lock (flock on the path's stripe) and the verifier's re-check under it
// stand between a verifier and a good file a writer has just renamed into place. The first tests park one
// process at a pause point and run the other into the race, so each fails without the mechanism it names (the
// control run shows it, with the locks switched off). The last one is a soak: many processes and files at once.
import fs from 'node:fs'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { openStore } from '../../lib/index.js'
import { runFixture, type Child } from '../helpers/child.js'
import { contentOf, corpusSizes, sha512Hex } from '../helpers/content.js'
import { tempDir } from '../helpers/tmp.js'

const COUNT = 120
const SEED = 'xproc'

/** A store dir whose content path for `text` holds same-size garbage; returns the dir and that path. */
async function seededWithCorruptCopy (text: string): Promise<{ dir: string, target: string }> {
  const dir = tempDir()
  const store = await openStore(dir)
  const target = store.filePathFor(sha512Hex(text), 0o644)
  await store.close()
  fs.mkdirSync(path.dirname(target), { recursive: true })
  fs.writeFileSync(target, Buffer.alloc(text.length, '!'))
  return { dir, target }
}

const result = async (child: Child): Promise<unknown> =>
  JSON.parse((await child.line(l => l.startsWith('RESULT '))).slice('RESULT '.length))

function onDisk (target: string, text: string): 'intact' | 'missing' | 'wrong' {
  if (!fs.existsSync(target)) return 'missing'
  return fs.readFileSync(target, 'utf8') === text ? 'intact' : 'wrong'
}

/**
 * A verifier process has proven the file wrong and holds the path lock, about to remove it; a writer process
 * then writes the good content. Returns what the writer did first (waited for the OS lock, or finished), both
 * processes' results, and what is left on disk.
 */
async function writerMeetsVerifierHoldingLock (locks: 'locks' | 'nolocks'): Promise<Record<string, unknown>> {
  const text = `written while another process verifies (${locks})\n`.repeat(40)
  const { dir, target } = await seededWithCorruptCopy(text)
  const verifier = runFixture('racer.ts', [dir, 'verify', text, 'verifier:provenWrong', locks])
  await verifier.line(l => l === 'PARKED verifier:provenWrong')
  const writer = runFixture('racer.ts', [dir, 'write', text, '-', locks])
  const first = await writer.line(l => l === 'CONTENDED' || l.startsWith('RESULT '))
  verifier.send('go')
  return { first, verified: await result(verifier), written: await result(writer), left: onDisk(target, text) }
}

describe('a writer process and a verifier process, one parked at a pause point', () => {
  it('the writer waits for the OS lock of the verifier removing a corrupt copy; the file it writes stays', async () => {
    const run = await writerMeetsVerifierHoldingLock('locks')
    expect(run).toEqual({
      first: 'CONTENDED',
      verified: { passed: false, missing: [], corrupt: ['f'], removed: ['f'] },
      written: { intact: true },
      left: 'intact',
    })
  })

  it('control, locks off: the writer does not wait and the verifier deletes the good file it just wrote', async () => {
    const run = await writerMeetsVerifierHoldingLock('nolocks')
    expect(run).toMatchObject({ first: 'RESULT {"intact":true}', verified: { removed: ['f'] }, left: 'missing' })
  })

  it('a verifier that read corrupt bytes re-checks under the lock and keeps what a writer process renamed in', async () => {
    const text = 'renamed in by another process between the read and the lock\n'.repeat(40)
    const { dir, target } = await seededWithCorruptCopy(text)
    const verifier = runFixture('racer.ts', [dir, 'verify', text, 'verifier:suspect', 'locks'])
    await verifier.line(l => l === 'PARKED verifier:suspect') // read and judged suspect; no lock held yet
    const writer = runFixture('racer.ts', [dir, 'write', text, '-', 'locks'])
    expect(await writer.line(l => l === 'CONTENDED' || l.startsWith('RESULT '))).toBe('RESULT {"intact":true}')
    verifier.send('go')
    expect(await result(verifier)).toEqual({ passed: true, missing: [], corrupt: [], removed: [] })
    expect(onDisk(target, text)).toBe('intact')
  })
})

it('soak: 3 writer and 2 verifier processes, store pre-seeded with corrupt copies: each removed once, no loss, no error', async () => {
  const dir = tempDir()
  const store = await openStore(dir)
  const sizes = corpusSizes(COUNT)
  const expected = sizes.map((size, i) => {
    const data = contentOf(SEED, i, size)
    return { data, path: store.filePathFor(sha512Hex(data), i % 3 === 0 ? 0o755 : 0o644) }
  })
  // Every third file starts out corrupt: right name, wrong bytes (same size for some, truncated for others).
  let seededCorrupt = 0
  for (const [i, { data, path: file }] of expected.entries()) {
    if (i % 3 !== 1) continue
    fs.mkdirSync(path.dirname(file), { recursive: true })
    fs.writeFileSync(file, i % 2 === 0 ? Buffer.alloc(data.length, 1) : data.subarray(0, data.length - 1))
    seededCorrupt++
  }
  await store.close()

  // The verifiers go first: every corrupt copy is proven wrong and removed before a writer starts. Writers only
  // ever put good content in place, so from then on a removal can only be a good file lost.
  const stopFile = path.join(dir, 'stop')
  const verifiers = [0, 1].map(() => runFixture('verifier.ts', [dir, SEED, String(COUNT), stopFile]))
  await Promise.all(verifiers.map(async v => await v.line(l => l === 'ROUND 1')))
  const writers = [0, 1, 2].map(() => runFixture('writer.ts', [dir, SEED, String(COUNT), '2']))
  const writerReports = await Promise.all(writers.map(async w => JSON.parse(await w.line(l => l.startsWith('{')))))
  fs.writeFileSync(stopFile, '')
  const verifierReports = await Promise.all(verifiers.map(async v => JSON.parse(await v.line(l => l.startsWith('{')))))

  for (const report of writerReports) expect(report).toEqual({ written: COUNT * 2, errors: [] })
  for (const report of verifierReports) {
    expect(report.errors).toEqual([])
    // Their last round starts after every writer is done: the store is whole.
    expect(report.last).toEqual({ passed: true, missing: [], corrupt: [], removed: [] })
  }
  // Each corrupt copy was removed exactly once, by one verifier (the other, under the same lock, found it gone).
  expect(verifierReports.reduce((sum, r) => sum + (r.removed as number), 0)).toBe(seededCorrupt)
  for (const { data, path: file } of expected) expect(fs.readFileSync(file).equals(data)).toBe(true)
  expect(fs.readdirSync(path.join(dir, 'v11', 'tmp'))).toEqual([])
})
