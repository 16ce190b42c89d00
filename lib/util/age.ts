import type fs from 'node:fs'

/**
 * Default grace period of the maintenance commands: nothing that changed more recently than this is removed.
 * Ten minutes outlasts any single file write or claim by far, yet lets `cas verify --fix` and `cas prune` clean up
 * the same day.
 */
export const DEFAULT_GRACE_MS = 10 * 60_000

/**
 * How long ago (ms, at `now`) a file last changed: its content (mtime) or its inode (ctime). The ctime counts
 * because a writer claims content it finds already stored by bumping it (see `claimExisting`), and a tool that
 * rewrites a file in place moves both. Negative when it changed after `now`.
 */
export function ageOf (stat: fs.Stats, now: number): number {
  return now - Math.max(stat.mtimeMs, stat.ctimeMs)
}

/**
 * The age rule every remover shares (verifier, prune, stale temps): a file that changed less than `graceMs`
 * before `now`, or after it, is young and stays, since someone may be writing, claiming or about to index it.
 */
export function isYoung (stat: fs.Stats, graceMs: number, now: number): boolean {
  return ageOf(stat, now) < graceMs
}
