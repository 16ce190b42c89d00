import { DEFAULT_GRACE_MS } from '../../util/age.js'
import type { CommandSpec } from '../args.js'
import { openCliStore, type CliContext } from '../context.js'
import { formatDuration, parseDuration } from '../duration.js'
import { formatBytes, plural } from '../format.js'
import { announceStopOnAbort } from '../interrupt.js'
import { UsageError } from '../usageError.js'

export const spec: CommandSpec = {
  name: 'prune',
  summary: 'Remove content that no package index references, and stale temp files.\n' +
    'Nothing changed within the grace period is removed: an install may have just added it. Safe alongside\n' +
    'installers built on cas-store (they claim what they reuse); do not run it during a pnpm install, which\n' +
    'reuses store files without telling anyone.',
  flags: {
    grace: { type: 'string', value: 'DURATION', help: 'keep anything changed more recently (default 10m)' },
    'dry-run': { type: 'boolean', help: 'say what would be removed, remove nothing' },
    force: { type: 'boolean', help: 'prune even a store with content but no package index (everything goes)' },
  },
}

/** `cas prune`. */
export async function run (values: Record<string, unknown>, positionals: string[], ctx: CliContext): Promise<number> {
  if (positionals.length > 0) throw new UsageError(`unexpected argument ${JSON.stringify(positionals[0])}`, 'prune')
  const graceMs = values.grace === undefined ? DEFAULT_GRACE_MS : parseDuration(String(values.grace))
  // A dry run only reads: on a store it cannot write (a read-only mount) it says what would go, as verify does.
  const store = await openCliStore(values.store as string | undefined, ctx.env, false, values['dry-run'] === true, ctx.stderr)
  announceStopOnAbort(ctx)
  let report
  try {
    report = await store.pruneStore({ graceMs, dryRun: values['dry-run'] === true, allowNoIndexes: values.force === true, signal: ctx.signal })
  } finally {
    await store.close()
  }
  if (values.json === true) {
    ctx.stdout.write(JSON.stringify({ root: store.root, graceMs, ...report }, null, 2) + '\n')
  } else {
    const verb = report.dryRun ? 'Would remove' : 'Removed'
    const young = graceMs === 0
      ? ' (no grace period)'
      : ` and ${plural(report.keptYoung, 'unreferenced one')} changed within the grace period (${formatDuration(graceMs)})`
    ctx.stdout.write([
      `${verb} ${plural(report.removed.count, 'unreferenced content file')} (${formatBytes(report.removed.bytes)}) and ${plural(report.tempsRemoved, 'stale temp file')}.`,
      `Kept ${plural(report.referenced, 'referenced file')}${young}.`,
      ...(report.interrupted ? ['Interrupted: each removal made was complete; run again to finish.'] : []),
    ].join('\n') + '\n')
  }
  return report.interrupted ? 130 : 0
}
