/**
 * The two times the age rule reads (an `fs.Stats` has them). Declared by shape, not as `fs.Stats`: this module is
 * part of the published types, which must compile without `@types/node`.
 */
export interface ChangeTimes {
  mtimeMs: number
  ctimeMs: number
}

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
export function ageOf (stat: ChangeTimes, now: number): number {
  return now - Math.max(stat.mtimeMs, stat.ctimeMs)
}

/**
 * The age rule every remover shares (verifier, prune, stale temps): a file that changed less than `graceMs`
 * before `now`, or after it, is young and stays, since someone may be writing, claiming or about to index it.
 */
export function isYoung (stat: ChangeTimes, graceMs: number, now: number): boolean {
  return ageOf(stat, now) < graceMs
}
