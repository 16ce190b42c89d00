// A Ctrl-C reaches the store-wide scans while they run: the content walk (prune's removals, verify's sweep) and the
// index read are synchronous calls, and without turns of the event loop no signal handler (nor any timer) ran
// before the scan was over: `cas prune` removed everything it had set out to after Ctrl-C. From a second read of
// the maintenance code. The abort here is an event-loop callback, as a signal handler is: `setImmediate`, so it
// can only run once the scan lets the loop turn (it does every 50 ms; these scans take far longer).
import { spawn } from 'node:child_process'
import crypto from 'node:crypto'
import fs from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import { openStore, packageIndexKey } from '../../lib/index.js'
import { sriOf } from '../helpers/pnpm.js'
import { tempDir } from '../helpers/tmp.js'

const repoRoot = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', '..')

/** A store with one package and `orphans` unreferenced content files (written directly: prune reads only names). */
async function storeWithOrphans (orphans: number): Promise<{ root: string, files: string[] }> {
  const store = await openStore(tempDir(), { threads: 0 })
  const used = await store.ensureFile(Buffer.from('used'), { mode: 0o644 })
  await store.writePackageIndex(packageIndexKey(sriOf(Buffer.from('p')), 'p@1.0.0'), {
    algo: 'sha512', files: new Map([['a', { digest: used.digest, mode: 0o644, size: used.size, checkedAt: used.checkedAt }]]),
  })
  await store.close()
  const files: string[] = []
  for (let i = 0; i < orphans; i++) {
    const digest = crypto.createHash('sha512').update(`orphan ${i}`).digest('hex')
    const file = path.join(store.root, 'files', digest.slice(0, 2), digest.slice(2))
    fs.mkdirSync(path.dirname(file), { recursive: true })
    fs.writeFileSync(file, `orphan ${i}`)
    files.push(file)
  }
  return { root: store.root, files }
}

const left = (files: string[]): number => files.filter(f => fs.existsSync(f)).length

describe('an abort delivered as an event reaches a running scan', () => {
  const ORPHANS = 20_000

  it('verifyStore (the content sweep), then pruneStore (the walk) on the same store: each stops part way', async () => {
    const { root, files } = await storeWithOrphans(ORPHANS)
    const store = await openStore(root, { threads: 0 })
    const controller = new AbortController()
    setImmediate(() => { controller.abort() })
    const report = await store.verifyStore({ signal: controller.signal })
    await store.close()
    expect(report.interrupted).toBe(true)
    expect(report.packagesChecked).toBe(1) // the package phase was over: the sweep is what stopped
    expect(report.orphans.count).toBeLessThan(ORPHANS)

    const later = await openStore(root, { threads: 0, _now: () => Date.now() + 3_600_000 })
    const pruning = new AbortController()
    setImmediate(() => { pruning.abort() })
    const pruned = await later.pruneStore({ graceMs: 60_000, signal: pruning.signal })
    await later.close()
    expect(pruned.interrupted).toBe(true)
    expect(pruned.removed.count).toBeLessThan(ORPHANS)
    expect(left(files)).toBe(ORPHANS - pruned.removed.count)
  })

  it('pruneStore: the index read stops part way (nothing walked, nothing removed)', async () => {
    const store = await openStore(tempDir(), { threads: 0 })
    const used = await store.ensureFile(Buffer.from('used'), { mode: 0o644 })
    const info = { digest: used.digest, mode: 0o644, size: used.size, checkedAt: used.checkedAt }
    const files = new Map(Array.from({ length: 50 }, (_, f) => [`f${f}.js`, info]))
    await Promise.all(Array.from({ length: 4000 }, async (_, n) => {
      await store.writePackageIndex(packageIndexKey(sriOf(Buffer.from(String(n))), `p${n}@1.0.0`), { algo: 'sha512', files })
    }))
    const controller = new AbortController()
    setImmediate(() => { controller.abort() })
    const report = await store.pruneStore({ signal: controller.signal })
    await store.close()
    expect(report).toMatchObject({ interrupted: true, referenced: 0, removed: { count: 0 } })
  })
})

it('Ctrl-C stops cas prune part way: "Interrupted", exit 130, the rest left for the next run', async () => {
  const ORPHANS = 25_000
  const { root, files } = await storeWithOrphans(ORPHANS)
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(repoRoot, 'lib', 'cli', 'cas.ts'), 'prune', '--store', root, '--grace', '0'],
    { cwd: repoRoot, stdio: ['ignore', 'pipe', 'pipe'] })
  let stdout = ''
  child.stdout.on('data', chunk => { stdout += String(chunk) })
  const exited = new Promise<number | null>(resolve => child.on('close', code => resolve(code)))
  // Once prune has begun removing (one of the first bucket's orphans is gone), press Ctrl-C.
  const first = files.filter(f => path.basename(path.dirname(f)) === '00')
  while (first.every(f => fs.existsSync(f))) await new Promise(resolve => setTimeout(resolve, 2))
  child.kill('SIGINT')
  expect(await exited).toBe(130)
  expect(stdout).toContain('Interrupted')
  expect(left(files)).toBeGreaterThan(0)
}, 120_000)
