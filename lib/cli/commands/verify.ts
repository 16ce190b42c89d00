import os from 'node:os'
import path from 'node:path'
import { unsettled, type VerifyReport } from '../../maint/verifyStore.js'
import { DEFAULT_GRACE_MS } from '../../util/age.js'
import type { CommandSpec } from '../args.js'
import { describeKey, openCliStore, type CliContext } from '../context.js'
import { formatDuration, parseDuration } from '../duration.js'
import { formatBytes, formatCount } from '../format.js'
import { createProgress } from '../progress.js'
import { UsageError } from '../usageError.js'

export const spec: CommandSpec = {
  name: 'verify',
  summary: 'Check every package in the store: each file its index names must be there with the right bytes.\n' +
    'Exit 0: healthy (or fully repaired with --fix); 1: problems found and left; 2: bad usage or unreadable store.',
  flags: {
    full: { type: 'boolean', help: 're-hash every file (default: trust files untouched since last checked)' },
    fix: { type: 'boolean', help: 'repair: remove corrupt content, drop the indexes of broken packages, clean temps' },
    jobs: { type: 'string', value: 'N', help: `packages checked at once (default ${os.availableParallelism() * 2})` },
    grace: { type: 'string', value: 'DURATION', help: 'never remove anything changed more recently (default 10m)' },
  },
}

/** `cas verify`. */
export async function run (values: Record<string, unknown>, _positionals: string[], ctx: CliContext): Promise<number> {
  if (_positionals.length > 0) throw new UsageError(`unexpected argument ${JSON.stringify(_positionals[0])}`, 'verify')
  const jobs = values.jobs === undefined ? undefined : Number(values.jobs)
  if (jobs !== undefined && (!Number.isInteger(jobs) || jobs < 1)) throw new UsageError(`--jobs ${String(values.jobs)} is not a positive whole number`, 'verify')
  const graceMs = values.grace === undefined ? DEFAULT_GRACE_MS : parseDuration(String(values.grace))
  const store = await openCliStore(values.store as string | undefined, ctx.env, false, true, ctx.stderr)
  const progress = createProgress({ stream: ctx.stderr, label: 'verify', unit: 'packages', quiet: values.quiet === true || values.json === true })
  const started = Date.now()
  let report: VerifyReport
  try {
    report = await store.verifyStore({
      full: values.full === true,
      fix: values.fix === true,
      graceMs,
      ...(jobs === undefined ? {} : { jobs }),
      signal: ctx.signal,
      onProgress: p => {
        if (p.packagesTotal !== undefined) progress.setTotal(p.packagesTotal)
        progress.update(p.packagesDone, `(${formatCount(p.filesChecked)} files)`)
      },
    })
  } finally {
    progress.done()
    await store.close()
  }
  const exitCode = report.interrupted ? 130 : report.healthy ? 0 : 1
  if (values.json === true) {
    const deleted = new Set(report.deletedIndexes)
    ctx.stdout.write(JSON.stringify({
      ...report,
      problems: report.problems.map(p => ({ ...p, indexDeleted: deleted.has(p.key) })),
      elapsedMs: Date.now() - started,
      exitCode,
    }, null, 2) + '\n')
  } else {
    ctx.stdout.write(textReport(report, Date.now() - started))
  }
  return exitCode
}

function textReport (r: VerifyReport, elapsedMs: number): string {
  const out: string[] = []
  const mode = r.full ? 'full re-hash' : 'fast path, re-hash where stale'
  out.push(`Store ${r.root} (${r.format}; ${mode}${r.fix ? '; fixing' : ''})`)
  if (r.indexLost === true) {
    out.push('', `Lost package index: ${path.join(r.root, 'index.db')} is empty but the store holds content, so no ` +
      'package could be checked and nothing was changed. Restore index.db from a backup; or, to start over, delete ' +
      'it (installs then fetch every package again; `cas prune --force` removes the content nothing references).', '')
    return out.join('\n') + '\n'
  }
  out.push(`Checked ${formatCount(r.packagesChecked)} packages, ${formatCount(r.filesChecked)} content files in ${formatDuration(elapsedMs)}.`)
  if (r.problems.length > 0) {
    out.push('', 'Problems:')
    const deleted = new Set(r.deletedIndexes)
    let lastKey = ''
    for (const p of r.problems) {
      if (p.key !== lastKey) {
        out.push(`  ${describeKey(p.key)}${deleted.has(p.key) ? ' — index deleted: the next install fetches it again' : ''}`)
        lastKey = p.key
      }
      const action = p.action === 'none' ? '' : `  [${p.action}]`
      out.push(`    ${p.file}  ${p.problem}  ${path.relative(r.root, p.path)}${action}`)
    }
  }
  if (r.unreadableIndexes.length > 0) {
    out.push('', 'Unreadable package indexes:')
    for (const u of r.unreadableIndexes) out.push(`  ${describeKey(u.key)}: ${u.error}${u.deleted ? '  [deleted]' : ''}`)
  }
  if (r.staleTemps.length > 0) {
    const removed = r.staleTemps.filter(t => t.removed).length
    out.push('', `Stale temp files: ${r.staleTemps.length} (${formatBytes(r.staleTemps.reduce((n, t) => n + t.size, 0))})` +
      (r.fix ? `, ${removed} removed` : ' — `cas verify --fix` removes them'))
  }
  if (r.orphans.count > 0) {
    out.push('', `Unreferenced content: ${formatCount(r.orphans.count)} files, ${formatBytes(r.orphans.bytes)} — \`cas prune\` removes them`)
  }
  out.push('')
  if (r.interrupted) {
    out.push(`Interrupted after ${formatCount(r.packagesChecked)} packages. Every check and repair made was finished; nothing is half done. Run again to check the rest.`)
  } else if (r.healthy) {
    out.push(r.problems.length + r.unreadableIndexes.length === 0
      ? 'Healthy.'
      : 'Repaired: every damaged package will be fetched again by the next install.' +
        (r.supersededIndexes.length > 0 ? ` (${formatCount(r.supersededIndexes.length)} were rewritten by another process meanwhile and left to it.)` : ''))
  } else {
    const { problems: left, unreadableIndexes: { length: leftIndexes } } = unsettled(r)
    const young = left.filter(p => p.action === 'kept: younger than grace').length
    const count = left.length + leftIndexes
    if (!r.fix) {
      out.push(`${formatCount(count)} problems found. Run \`cas verify --fix\` to repair them.`)
    } else {
      const reasons = []
      if (young > 0) reasons.push(`${formatCount(young)} changed within the grace period, so kept: run again later`)
      if (left.length - young > 0) reasons.push(`${formatCount(left.length - young)} not removable here (not a regular file, or a read-only store): see above`)
      if (leftIndexes > 0) reasons.push(`${formatCount(leftIndexes)} unreadable indexes could not be deleted`)
      out.push(`${formatCount(count)} problems left: ${reasons.join('; ')}.`)
    }
  }
  return out.join('\n') + '\n'
}
