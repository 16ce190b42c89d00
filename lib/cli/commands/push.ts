import type { CommandSpec } from '../args.js'
import { openCliStore, type CliContext } from '../context.js'
import { formatBytes, formatCount } from '../format.js'
import { createProgress } from '../progress.js'
import { REMOTE_FLAG, remoteFromCli } from '../remote.js'
import { UsageError } from '../usageError.js'

export const spec: CommandSpec = {
  name: 'push',
  summary: 'Upload every package of the store that the remote cache lacks (its files first, then its index).\n' +
    'Exit 0: everything is on the remote; 1: some packages could not be uploaded (their local files are damaged).',
  flags: { remote: REMOTE_FLAG },
}

/** `cas push`. */
export async function run (values: Record<string, unknown>, positionals: string[], ctx: CliContext): Promise<number> {
  if (positionals.length > 0) throw new UsageError(`unexpected argument ${JSON.stringify(positionals[0])}`, 'push')
  const remote = remoteFromCli(values.remote as string | undefined, ctx.env, 'push')
  const store = await openCliStore(values.store as string | undefined, ctx.env, false, false, ctx.stderr, { remote })
  const progress = createProgress({ stream: ctx.stderr, label: 'push', unit: 'packages', quiet: values.quiet === true || values.json === true })
  let report
  try {
    report = await store.pushToRemote({
      signal: ctx.signal,
      onProgress: p => {
        if (p.packagesTotal !== undefined) progress.setTotal(p.packagesTotal)
        progress.update(p.packagesDone, undefined, `(${formatBytes(p.bytesUploaded)} sent)`)
      },
    })
  } finally {
    progress.done()
    await store.close()
  }
  if (values.json === true) {
    ctx.stdout.write(JSON.stringify({ remote: store.remoteUrl, ...report, requests: store.remoteStats?.requests }, null, 2) + '\n')
  } else {
    ctx.stdout.write(`Pushed to ${store.remoteUrl ?? ''}: ${formatCount(report.packagesUploaded)} packages uploaded ` +
      `(${formatCount(report.filesUploaded)} files, ${formatBytes(report.bytesUploaded)}), ` +
      `${formatCount(report.packagesSkipped)} already there.\n`)
    for (const p of report.problems) ctx.stdout.write(`not uploaded: ${p.key.replace('\t', ' ')}: ${p.message} (${p.code})\n`)
  }
  if (ctx.signal.aborted) return 130
  return report.problems.length === 0 ? 0 : 1
}
