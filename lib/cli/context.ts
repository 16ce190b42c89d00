import fs from 'node:fs'
import path from 'node:path'
import { CasError } from '../errors.js'
import type { WaitInfo } from '../lock/lockWait.js'
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
  storeFlag: string | undefined, env: NodeJS.ProcessEnv, create = false, readOnlyIfNeeded = false,
  stderr?: NodeJS.WritableStream,
): Promise<Store> {
  const dir = storeFlag ?? defaultStoreDir(env)
  const root = findStoreRoot(dir)
  // A long wait for a lock another process holds is said, with who holds it, instead of a silent hang.
  const options: StoreOptions = stderr === undefined ? {} : { onWait: info => { stderr.write(lockWaitLine(info)) } }
  if (root === undefined) {
    if (create) return await openStore(dir, options)
    throw new StoreNotFoundError(dir, storeFlag === undefined ? 'default' : 'flag')
  }
  // The reading commands (verify, stat, cat) open a store they cannot write read-only instead of failing.
  return await openStore(root, readOnlyIfNeeded && !isWritable(root) ? { readOnly: true } : options)
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
