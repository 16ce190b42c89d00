import os from 'node:os'
import path from 'node:path'

/**
 * The store folder pnpm uses on this machine when none is configured, as `pnpm store path` finds it (without the
 * version folder): `$PNPM_HOME/store`, else `$XDG_DATA_HOME/pnpm/store`, else `~/.local/share/pnpm/store`
 * (`~/Library/pnpm/store` on macOS, `%LOCALAPPDATA%\pnpm\store` on Windows).
 */
export function defaultStoreDir (
  env: NodeJS.ProcessEnv = process.env, home = os.homedir(), platform = process.platform,
): string {
  if (env.PNPM_HOME !== undefined && env.PNPM_HOME !== '') return path.join(env.PNPM_HOME, 'store')
  if (env.XDG_DATA_HOME !== undefined && env.XDG_DATA_HOME !== '') return path.join(env.XDG_DATA_HOME, 'pnpm', 'store')
  if (platform === 'darwin') return path.join(home, 'Library', 'pnpm', 'store')
  if (platform === 'win32' && env.LOCALAPPDATA !== undefined) return path.join(env.LOCALAPPDATA, 'pnpm', 'store')
  return path.join(home, '.local', 'share', 'pnpm', 'store')
}
