import { expect, it } from 'vitest'
import { verifyAdvice } from '../../lib/cli/verifyAdvice.js'
import type { FileProblem, VerifyReport } from '../../lib/index.js'

const NOW = 1_000_000_000_000
const GRACE = 10 * 60_000

function report (problems: Array<Partial<FileProblem>>, extra: Partial<VerifyReport> = {}): VerifyReport {
  return {
    root: '/s/v11',
    format: 'v11',
    full: false,
    fix: false,
    packagesChecked: 1,
    filesChecked: problems.length,
    filesTrusted: 0,
    problems: problems.map((p, i) => ({ key: `k${i}`, file: `f${i}`, path: `/s/v11/files/${i}`, digest: 'd', problem: 'corrupt', action: 'none', ...p })),
    unreadableIndexes: [],
    deletedIndexes: [],
    supersededIndexes: [],
    staleTemps: [],
    orphans: { count: 0, bytes: 0 },
    interrupted: false,
    healthy: problems.length === 0,
    ...extra,
  }
}

it('suggests a bare --fix only for damage older than the grace period', () => {
  expect(verifyAdvice(report([{ changedAt: NOW - GRACE - 1 }]), GRACE, NOW).nextStep)
    .toBe('1 problem found. Run `cas verify --fix` to repair them.')
  expect(verifyAdvice(report([{ problem: 'missing' }, { problem: 'missing' }]), GRACE, NOW).nextStep)
    .toBe('2 problems found. Run `cas verify --fix` to repair them.')
})

it('names --grace, why it exists and when --fix can act, when the damage is younger than the grace period', () => {
  const young = verifyAdvice(report([{ changedAt: NOW - 60_000 }]), GRACE, NOW).nextStep!
  expect(young).toMatch(/^1 problem found; it changed within the grace period: pnpm writes store files in place/)
  expect(young).toContain('Run `cas verify --fix` in 9 min, or with `--grace 0` if no install is using this store.')
  const mixed = verifyAdvice(report([{ changedAt: NOW - 60_000 }, { problem: 'missing' }]), GRACE, NOW).nextStep!
  expect(mixed).toContain('2 problems found; 1 changed within the grace period')
  expect(mixed).toContain('Run `cas verify --fix` for the others, then run `cas verify --fix` again in 9 min')
  const kept = verifyAdvice(report([{ changedAt: NOW - 60_000, action: 'kept: younger than grace' }], { fix: true }), GRACE, NOW).nextStep!
  expect(kept).toMatch(/^1 problem left: 1 changed within the grace period, so kept: .*; run `cas verify --fix` again in 9 min/)
})

it('says what restores packages whose index was deleted, and the hard-link cause', () => {
  const advice = verifyAdvice(report([{ key: 'k0', links: 3, action: 'removed' }], { fix: true, deletedIndexes: ['k0'], healthy: true }), GRACE, NOW)
  expect(advice.restore?.pnpm).toContain('delete node_modules and run `pnpm install`')
  expect(advice.restore?.casStore).toContain('ensurePackage')
  expect(advice.hardLinks).toMatch(/^1 corrupt file had other hard links/)
  expect(advice.nextStep).toBeUndefined()
})
