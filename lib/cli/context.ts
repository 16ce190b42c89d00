import fs from 'node:fs'
import path from 'node:path'
import { CasError } from '../errors.js'
import type { WaitInfo } from '../lock/lockWait.js'
import { openStore, type Store, type StoreOptions } from '../store.js'
import { findStoreRoot, storeFormatOf } from '../layout/resolveRoot.js'
import { INDEX_DB_FILE } from '../pkgIndex/indexDb.js'
import { statOrUndefined } from '../util/fs.js'
import { defaultStoreDir } from './storeDir.js'
import { UsageError } from './usageError.js'

/** What a command runs with: its output streams, environment and an abort signal (Ctrl-C). */
export interface CliContext {
  stdout: NodeJS.WritableStream
  stderr: NodeJS.WriteStream | (NodeJS.WritableStream & { isTTY?: boolean, columns?: number })
  env: NodeJS.ProcessEnv
  signal: AbortSignal
}

/** How to get a store to try `cas` on, for a machine that has none. */
const TRY_IT = 'To try cas without one, make a small store: `cas add <folder or .tgz> --store /tmp/cas-try` ' +
  '(a tarball also gets a package index), then `cas verify --store /tmp/cas-try`.'

/** No store where `cas` was pointed (or at pnpm's default location). `cas` exits 2. */
export class StoreNotFoundError extends CasError {
  /**
   * `from`: whether `dir` is pnpm's default store location or the one given with `--store`; `found`: what is there.
   */
  constructor (dir: string, from: 'default' | 'flag', found: 'missing' | 'file' | 'not a store' = 'not a store') {
    super('ERR_CAS_NO_STORE', from === 'default'
      ? `No store at ${dir}, where pnpm keeps its store on this machine. Point cas at one with --store DIR ` +
        `(\`pnpm store path\` prints the one pnpm uses). ${TRY_IT}`
      : found === 'missing'
        ? `--store ${dir} does not exist. Check the path (\`pnpm store path\` prints the store pnpm uses). ${TRY_IT}`
        : found === 'file'
          ? `--store ${dir} is a file, not a store folder. Give the folder that holds v11 (or v10), as \`pnpm store path\` prints it.`
          : `No store at ${dir}: it has no v11 or v10 folder with files/ or an index. Check the path given to --store.`)
  }
}

/**
 * Opens the store a command works on: `--store DIR` or pnpm's default store, with its `v11` (else `v10`) folder
 * found inside. Never creates one, unless `create` (for `cas add`): a typo in a path must not make a new store.
 */
export async function openCliStore (
  storeFlag: string | undefined, env: NodeJS.ProcessEnv, create = false, readOnlyIfNeeded = false,
  stderr?: NodeJS.WritableStream, extra: StoreOptions = {},
): Promise<Store> {
  // `--store "$STORE"` with the variable unset: never the current folder by accident.
  if (storeFlag === '') throw new UsageError('--store was given an empty path; name the store folder')
  const dir = storeFlag ?? defaultStoreDir(env)
  const stat = statOrUndefined(dir)
  if (stat !== undefined && !stat.isDirectory()) throw new StoreNotFoundError(dir, storeFlag === undefined ? 'default' : 'flag', 'file')
  const root = findStoreRoot(dir)
  // A long wait for a lock another process holds is said, with who holds it, instead of a silent hang.
  const options: StoreOptions = stderr === undefined
    ? { ...extra }
    : { ...extra, onWait: info => { stderr.write(lockWaitLine(info)) } }
  if (root === undefined) {
    if (create) return await openStore(dir, options)
    throw new StoreNotFoundError(dir, storeFlag === undefined ? 'default' : 'flag', stat === undefined ? 'missing' : 'not a store')
  }
  // The reading commands (verify without --fix, stat, cat, prune --dry-run) open a store they cannot write
  // read-only instead of failing; and one without index.db too, which a writable open would create: a run that
  // only reports leaves the store as it found it (a store whose index.db was deleted to start over stays so).
  const noIndexDb = storeFormatOf(root) === 'v11' && !fs.existsSync(path.join(root, INDEX_DB_FILE))
  return await openStore(root, readOnlyIfNeeded && (noIndexDb || !isWritable(root)) ? { readOnly: true } : options)
}

/** `cas: waiting for a lock on …/files/ab/cd… held by pid 123 on host (5 s so far)`. */
export function lockWaitLine (info: WaitInfo): string {
  const who = info.holder === undefined ? 'another process' : `pid ${info.holder.pid} on ${info.holder.hostname}`
  return `cas: waiting for a lock on ${info.key}, held by ${who} (${Math.round(info.waitedMs / 1000)} s so far); ` +
    'it is released when that process finishes or exits.\n'
}

/** True when this process may create files in the store (false on a read-only mount, or without permission). */
function isWritable (root: string): boolean {
  try {
    fs.accessSync(root, fs.constants.W_OK)
    if (fs.existsSync(path.join(root, 'files'))) fs.accessSync(path.join(root, 'files'), fs.constants.W_OK)
    return true
  } catch {
    return false
  }
}

/** `pkg@1.0.0 (sha512-AbCd…)` for a package index key. */
export function describeKey (key: string): string {
  const tab = key.indexOf('\t')
  return tab < 0 ? key : `${key.slice(tab + 1)} (${key.slice(0, Math.min(tab, 20))}…)`
}
