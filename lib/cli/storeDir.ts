import fs from 'node:fs'
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

/**
 * The version folder to open inside a store folder: `v11` (pnpm 11/12) when it exists, else `v10` (pnpm 10).
 * A path that already is a version folder is taken as it is. Undefined when there is no store there.
 */
export function findStoreRoot (dir: string): string | undefined {
  const abs = path.resolve(dir)
  const base = path.basename(abs)
  if (base === 'v11' || base === 'v10') return isStoreRoot(abs) ? abs : undefined
  for (const version of ['v11', 'v10']) {
    const root = path.join(abs, version)
    if (isStoreRoot(root)) return root
  }
  return undefined
}

function isStoreRoot (root: string): boolean {
  return ['files', 'index.db', 'index'].some(entry => fs.existsSync(path.join(root, entry)))
}
