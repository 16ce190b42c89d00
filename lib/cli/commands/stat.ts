import type { CommandSpec } from '../args.js'
import { openCliStore, type CliContext } from '../context.js'
import { formatBytes, formatCount } from '../format.js'
import { UsageError } from '../usageError.js'

export const spec: CommandSpec = {
  name: 'stat',
  summary: 'Count the store\'s content files, bytes and packages, and how much the packages share.',
  flags: {},
}

/** `cas stat`. */
export async function run (values: Record<string, unknown>, positionals: string[], ctx: CliContext): Promise<number> {
  if (positionals.length > 0) throw new UsageError(`unexpected argument ${JSON.stringify(positionals[0])}`, 'stat')
  const store = await openCliStore(values.store as string | undefined, ctx.env, false, true)
  let stats
  try {
    stats = await store.storeStats()
  } finally {
    await store.close()
  }
  if (values.json === true) {
    ctx.stdout.write(JSON.stringify(stats, null, 2) + '\n')
    return 0
  }
  ctx.stdout.write([
    `Store ${stats.root} (${stats.format})`,
    `Content files:  ${formatCount(stats.files)} (${formatBytes(stats.bytes)})`,
    `Packages:       ${formatCount(stats.packages)}, ${formatCount(stats.references)} files in all (${formatBytes(stats.referencedBytes)} if nothing were shared)`,
    `Shared:         ${formatCount(stats.sharedFiles)} content files used more than once; sharing saves ${formatBytes(stats.savedBytes)}`,
    `Unreferenced:   ${formatCount(stats.orphans)} content files (\`cas prune\` removes them)`,
    ...(stats.unreadableIndexes > 0
      ? [`Unreadable:     ${formatCount(stats.unreadableIndexes)} package indexes, not counted above (\`cas verify --fix\` deletes them)`]
      : []),
  ].join('\n') + '\n')
  return 0
}
