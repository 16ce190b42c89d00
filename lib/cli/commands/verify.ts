import os from 'node:os'
import path from 'node:path'
import type { VerifyReport } from '../../maint/verifyStore.js'
import { DEFAULT_GRACE_MS } from '../../util/age.js'
import type { CommandSpec } from '../args.js'
import { describeKey, openCliStore, type CliContext } from '../context.js'
import { formatDuration, parseDuration } from '../duration.js'
import { formatBytes, formatCount, plural } from '../format.js'
import { announceStopOnAbort } from '../interrupt.js'
import { createProgress } from '../progress.js'
import { UsageError } from '../usageError.js'
import { isYoungProblem, pkgIdOfKey, verifyAdvice, type VerifyAdvice } from '../verifyAdvice.js'

export const spec: CommandSpec = {
  name: 'verify',
  summary: 'Check every package in the store: each file its index names must be there with the right bytes.\n' +
    'Exit 0: healthy (or fully repaired with --fix); 1: problems found and left; 2: bad usage or unreadable store.',
  flags: {
    full: { type: 'boolean', help: 're-hash every file (default: trust a file whose mtime is not after its last check)' },
    fix: { type: 'boolean', help: 'repair: remove corrupt content, drop the indexes of broken packages, clean temps' },
    jobs: {
      type: 'string',
      value: 'N',
      help: `packages checked at once (default ${os.availableParallelism() * 2}); 1: one file at a time, no hashing threads`,
    },
    grace: { type: 'string', value: 'DURATION', help: 'never remove anything changed more recently (default 10m)' },
  },
}

/** `cas verify`. */
export async function run (values: Record<string, unknown>, _positionals: string[], ctx: CliContext): Promise<number> {
  if (_positionals.length > 0) throw new UsageError(`unexpected argument ${JSON.stringify(_positionals[0])}`, 'verify')
  const jobs = values.jobs === undefined ? undefined : Number(values.jobs)
  if (jobs !== undefined && (!Number.isInteger(jobs) || jobs < 1)) throw new UsageError(`--jobs ${String(values.jobs)} is not a positive whole number`, 'verify')
  const graceMs = values.grace === undefined ? DEFAULT_GRACE_MS : parseDuration(String(values.grace))
  // Without --fix a verify only reads (see openCliStore); with it, it must be able to write.
  const store = await openCliStore(values.store as string | undefined, ctx.env, false, values.fix !== true, ctx.stderr)
  // Counts files (a package can hold 20,000 of them); the bar follows packages, the only total known up front.
  const progress = createProgress({ stream: ctx.stderr, label: 'verify', unit: 'files', quiet: values.quiet === true || values.json === true })
  announceStopOnAbort(ctx, progress)
  const started = Date.now()
  let report: VerifyReport
  try {
    report = await store.verifyStore({
      full: values.full === true,
      fix: values.fix === true,
      graceMs,
      ...(jobs === undefined ? {} : { jobs }),
      signal: ctx.signal,
      onProgress: p => progress.update(p.filesChecked, { done: p.packagesDone, total: p.packagesTotal, unit: 'packages' }),
    })
  } finally {
    progress.done()
    await store.close()
  }
  const elapsedMs = Date.now() - started
  const exitCode = report.interrupted ? 130 : report.healthy ? 0 : 1
  const advice = verifyAdvice(report, graceMs)
  if (values.json === true) {
    const deleted = new Set(report.deletedIndexes)
    ctx.stdout.write(JSON.stringify({
      ...report,
      graceMs,
      problems: report.problems.map(p => ({
        ...p,
        indexDeleted: deleted.has(p.key),
        ...(p.links === undefined ? {} : { otherLinks: p.links - 1 }),
        ...(p.changedAt === undefined ? {} : { young: p.changedAt > Date.now() - graceMs }),
      })),
      deletedPackages: report.deletedIndexes.map(key => ({ key, pkgId: pkgIdOfKey(key) })),
      ...advice,
      elapsedMs,
      filesPerSecond: Math.round(report.filesChecked / (Math.max(1, elapsedMs) / 1000)),
      exitCode,
    }, null, 2) + '\n')
  } else {
    ctx.stdout.write(textReport(report, elapsedMs, graceMs, advice))
  }
  return exitCode
}

function textReport (r: VerifyReport, elapsedMs: number, graceMs: number, advice: VerifyAdvice): string {
  const out: string[] = []
  const mode = r.full ? 'full re-hash' : 'fast check, re-hash where stale'
  const rate = r.filesChecked / (Math.max(1, elapsedMs) / 1000)
  out.push(`Store ${r.root} (${r.format}; ${mode}${r.fix ? '; fixing' : ''})`)
  if (r.indexLost === true) {
    out.push('', `Lost package index: ${path.join(r.root, 'index.db')} is empty but the store holds content, so no ` +
      'package could be checked and nothing was changed. Restore index.db from a backup; or, to start over, delete ' +
      'it (installs then fetch every package again; `cas prune --force` removes the content nothing references).', '')
    return out.join('\n') + '\n'
  }
  out.push(`Checked ${plural(r.packagesChecked, 'package')}, ${plural(r.filesChecked, 'content file')} in ${formatDuration(elapsedMs)} ` +
    `(${formatCount(rate)} files/s).`)
  const deleted = new Set(r.deletedIndexes)
  if (r.problems.length > 0) {
    out.push('', 'Problems:')
    let lastKey = ''
    for (const p of r.problems) {
      if (p.key !== lastKey) {
        out.push(`  ${describeKey(p.key)}${deleted.has(p.key) ? ' — index deleted (see below)' : ''}`)
        lastKey = p.key
      }
      const action = p.action === 'none' ? '' : `  [${p.action}]`
      const links = (p.links ?? 1) > 1 ? `  (${plural(p.links! - 1, 'other hard link')}: edited through a project?)` : ''
      const young = !r.fix && isYoungProblem(p, graceMs) ? '  (changed within the grace period)' : ''
      out.push(`    ${p.file}  ${p.problem}  ${path.relative(r.root, p.path)}${action}${links}${young}`)
    }
  }
  if (r.unreadableIndexes.length > 0) {
    out.push('', 'Unreadable package indexes:')
    for (const u of r.unreadableIndexes) out.push(`  ${describeKey(u.key)}: ${u.error}${u.deleted ? '  [deleted]' : ''}`)
  }
  if (r.staleTemps.length > 0) {
    const removed = r.staleTemps.filter(t => t.removed).length
    out.push('', `Stale temp files: ${formatCount(r.staleTemps.length)} (${formatBytes(r.staleTemps.reduce((n, t) => n + t.size, 0))})` +
      (r.fix ? `, ${formatCount(removed)} removed` : ' — `cas verify --fix` removes them'))
    // Outside the store: say where, so nobody is surprised by a folder of their node_modules going.
    for (const t of r.staleTemps) {
      for (const folder of t.folders ?? []) out.push(`  left by a killed import: ${folder}${t.removed ? '  [removed]' : ''}`)
    }
  }
  if (r.orphans.count > 0) {
    out.push('', `Unreferenced content: ${plural(r.orphans.count, 'file')}, ${formatBytes(r.orphans.bytes)} — \`cas prune\` removes them`)
  }
  if (r.deletedIndexes.length > 0 && advice.restore !== undefined) {
    out.push('', `Deleted the ${r.deletedIndexes.length === 1 ? 'index' : 'indexes'} of ${plural(r.deletedIndexes.length, 'package')} ` +
      `that lost files: ${r.deletedIndexes.map(pkgIdOfKey).join(', ')}. What restores ${r.deletedIndexes.length === 1 ? 'it' : 'them'}:`)
    out.push(`  - pnpm: ${advice.restore.pnpm}`, `  - cas-store installers: ${advice.restore.casStore}`)
  }
  if (advice.hardLinks !== undefined) out.push('', `Hard links: ${advice.hardLinks}`)
  out.push('')
  if (r.interrupted) {
    out.push(`Interrupted after ${plural(r.packagesChecked, 'package')}. Every check and repair made was finished; nothing is half done. Run again to check the rest.`)
  } else if (r.healthy) {
    out.push(r.problems.length + r.unreadableIndexes.length === 0
      ? 'Healthy.'
      : 'Repaired: no damaged content is left, and no package index names a missing file.' +
        (r.supersededIndexes.length > 0 ? ` (${formatCount(r.supersededIndexes.length)} ${r.supersededIndexes.length === 1 ? 'index was' : 'indexes were'} rewritten by another process meanwhile and left to it.)` : ''))
  } else if (advice.nextStep !== undefined) {
    out.push(advice.nextStep)
  }
  // "Healthy" after a fast check means "untouched since last checked", not "re-hashed": say so last.
  if (!r.full) out.push(`fast check: ${plural(r.filesTrusted, 'file')} trusted by mtime; --full re-hashes everything`)
  return out.join('\n') + '\n'
}
