import type { RemoteOptions } from '../remote/options.js'
import type { FlagSpec } from './args.js'
import { UsageError } from './usageError.js'

/** The flag `cas push` and `cas pull` take for the remote's URL. */
export const REMOTE_FLAG: FlagSpec = {
  type: 'string',
  value: 'URL',
  help: 'the remote cache (default: $CAS_REMOTE_URL); a bearer token is read from $CAS_REMOTE_TOKEN, never a flag',
}

/**
 * The remote a command talks to: `--remote URL` or `$CAS_REMOTE_URL`, with the token from `$CAS_REMOTE_TOKEN`
 * only (a flag would show in `ps` and in CI logs).
 */
export function remoteFromCli (flag: string | undefined, env: NodeJS.ProcessEnv, command: string): RemoteOptions {
  const url = flag ?? env.CAS_REMOTE_URL
  if (url === undefined || url === '') {
    throw new UsageError('name the remote cache with --remote URL or the CAS_REMOTE_URL environment variable', command)
  }
  const token = env.CAS_REMOTE_TOKEN
  return { url, ...(token === undefined || token === '' ? {} : { token }) }
}
