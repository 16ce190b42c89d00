// The harness itself: a quick run on a tiny corpus must measure every scenario and report every target.
// Figures are not asserted (speed belongs to `npm run bench`, as ratios); the shape and the sanity are.
import { execFileSync } from 'node:child_process'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { expect, it } from 'vitest'

const repo = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', '..')

it('npm run bench --quick --json measures every scenario and reports every target', () => {
  const out = execFileSync(process.execPath, ['--import', 'tsx', 'bench/run.ts', '--quick', '--json'], { cwd: repo, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] })
  const report = JSON.parse(out)
  expect(report.corpus.files).toBe(300)
  const names = report.scenarios.map((s: { name: string }) => s.name)
  expect(names).toHaveLength(16)
  expect(names).toContain('Add with the store\'s threads already running (a second folder into the same open store)')
  for (const scenario of report.scenarios) {
    for (const figure of scenario.figures) expect(figure.ms).toBeGreaterThan(0)
  }
  expect(report.targets.map((t: { name: string }) => t.name)).toEqual([
    'cold add vs pnpm 10',
    'cold add vs raw temp+rename floor',
    'warm re-add vs pnpm 10',
    'verify fast path vs pnpm 10',
    'verify slow path vs pnpm 10',
    'cas verify (fast check) vs bare stat loop',
    'cas verify --full vs its own --jobs 1',
    'whole-store verify vs cacache verify (files/s)',
    'contention: 4 processes ensurePackage wall time vs 1 process',
    'warm ensurePackage vs cold',
    'addFilesFromTarball vs pnpm 10',
    'lock overhead (locks on vs off)',
    'large file peak RSS growth',
    'import, hardlink, vs pnpm importer',
    'import, copy, vs pnpm importer',
    'import skip of complete targets',
    'remote tier: cold runner from the remote vs from tarballs',
    'remote tier: warm-ish runner bytes downloaded / bytes lacked',
  ])
  for (const t of report.targets) expect(typeof t.met).toBe('boolean')
  const contention = report.scenarios.find((s: { name: string }) => s.name.startsWith('Contention'))
  expect(contention.extra.errors).toEqual([])
  // Exactly one download per tarball with four processes asking.
  expect(contention.extra.downloadsPerTarballMin).toBe(1)
  expect(contention.extra.downloadsPerTarballMax).toBe(1)
}, 120_000)
