import { CasError } from '../errors.js'
import { openStore, type Store, type StoreOptions } from '../store.js'
import { findStoreRoot } from '../layout/resolveRoot.js'
import { defaultStoreDir } from './storeDir.js'

/** What a command runs with: its output streams, environment and an abort signal (Ctrl-C). */
export interface CliContext {
  stdout: NodeJS.WritableStream
  stderr: NodeJS.WriteStream | (NodeJS.WritableStream & { isTTY?: boolean, columns?: number })
  env: NodeJS.ProcessEnv
  signal: AbortSignal
}

/** No store where `cas` was pointed (or at pnpm's default location). `cas` exits 2. */
export class StoreNotFoundError extends CasError {
  /** `from`: whether `dir` is pnpm's default store location or the one given with `--store`. */
  constructor (dir: string, from: 'default' | 'flag') {
    super('ERR_CAS_NO_STORE', from === 'default'
      ? `No store at ${dir}, where pnpm keeps its store on this machine. Point cas at one with --store DIR ` +
        '(`pnpm store path` prints the one pnpm uses).'
      : `No store at ${dir}: it has no v11 or v10 folder with files/ or an index. Check the path given to --store.`)
  }
}

/**
 * Opens the store a command works on: `--store DIR` or pnpm's default store, with its `v11` (else `v10`) folder
 * found inside. Never creates one, unless `create` (for `cas add`): a typo in a path must not make a new store.
 */
export async function openCliStore (
  storeFlag: string | undefined, env: NodeJS.ProcessEnv, create = false, options: StoreOptions = {},
): Promise<Store> {
  const dir = storeFlag ?? defaultStoreDir(env)
  const root = findStoreRoot(dir)
  if (root === undefined) {
    if (create) return await openStore(dir, options)
    throw new StoreNotFoundError(dir, storeFlag === undefined ? 'default' : 'flag')
  }
  return await openStore(root, options)
}

/** `pkg@1.0.0 (sha512-AbCd…)` for a package index key. */
export function describeKey (key: string): string {
  const tab = key.indexOf('\t')
  return tab < 0 ? key : `${key.slice(tab + 1)} (${key.slice(0, Math.min(tab, 20))}…)`
}
