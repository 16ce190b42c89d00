import type { CommandSpec } from '../args.js'
import { describeKey, openCliStore, type CliContext } from '../context.js'
import { packageKeyArg } from '../packageKey.js'
import { formatBytes, formatCount } from '../format.js'
import { REMOTE_FLAG, remoteFromCli } from '../remote.js'
import { UsageError } from '../usageError.js'

export const spec: CommandSpec = {
  name: 'pull',
  positionals: '<package-key>...',
  summary: 'Bring packages from the remote cache into the store, every file verified against its sha512.\n' +
    'A key is "<tarball integrity>\\t<name>@<version>". Exit 0: all in the store; 1: some missing or bad on the remote.',
  flags: { remote: REMOTE_FLAG },
}

/** `cas pull`. */
export async function run (values: Record<string, unknown>, positionals: string[], ctx: CliContext): Promise<number> {
  if (positionals.length === 0) throw new UsageError('name at least one package key to pull', 'pull')
  const keys = positionals.map(typed => packageKeyArg(typed, 'pull'))
  const remote = remoteFromCli(values.remote as string | undefined, ctx.env, 'pull')
  const options = { remote: { ...remote, upload: false } }
  const store = await openCliStore(values.store as string | undefined, ctx.env, true, false, ctx.stderr, options)
  const results: Array<{ key: string, status: string, files?: number, bytes?: number, error?: string }> = []
  try {
    for (const key of keys) {
      if (ctx.signal.aborted) break
      if (await store.readPackageIndex(key) !== undefined) {
        results.push({ key, status: 'present' })
        continue
      }
      const outcome = await store.pullFromRemote(key)
      if (outcome.status === 'pulled') results.push({ key, status: 'pulled', files: outcome.filesDownloaded, bytes: outcome.bytesDownloaded })
      else if (outcome.status === 'bad') results.push({ key, status: 'bad', error: `${outcome.error.message} (${outcome.error.code})` })
      else results.push({ key, status: 'missing' })
    }
  } finally {
    await store.close()
  }
  if (values.json === true) {
    ctx.stdout.write(JSON.stringify({ remote: store.remoteUrl, results, requests: store.remoteStats?.requests }, null, 2) + '\n')
  } else {
    for (const r of results) {
      const what = r.status === 'pulled'
        ? `pulled (${formatCount(r.files ?? 0)} files downloaded, ${formatBytes(r.bytes ?? 0)})`
        : r.status === 'present' ? 'already in the store' : r.status === 'missing' ? 'not on the remote' : `refused: ${r.error ?? ''}`
      ctx.stdout.write(`${describeKey(r.key)}: ${what}\n`)
    }
  }
  if (ctx.signal.aborted) return 130
  return results.every(r => r.status === 'pulled' || r.status === 'present') ? 0 : 1
}
