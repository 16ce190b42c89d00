import { UsageError } from './usageError.js'

const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, min: 60_000, h: 3_600_000, d: 86_400_000 }

/** Parses `10m`, `90s`, `1.5h`, `250ms`, `2d` or a bare number of seconds into milliseconds. */
export function parseDuration (text: string, flag = '--grace'): number {
  const match = /^(\d+(?:\.\d+)?)(ms|s|m|min|h|d)?$/.exec(text.trim())
  if (match === null) throw new UsageError(`${flag} ${JSON.stringify(text)} is not a duration: use e.g. 10m, 90s, 1h, 2d`)
  return Math.round(Number(match[1]) * UNITS[match[2] ?? 's']!)
}

/** A duration for people: `850 ms`, `12 s`, `3 min 4 s`, `1 h 2 min`. */
export function formatDuration (ms: number): string {
  if (ms < 1000) return `${Math.round(ms)} ms`
  const s = Math.round(ms / 1000)
  if (s < 60) return `${s} s`
  if (s < 3600) return s % 60 === 0 ? `${Math.floor(s / 60)} min` : `${Math.floor(s / 60)} min ${s % 60} s`
  const min = Math.round(s / 60)
  return min % 60 === 0 ? `${Math.floor(min / 60)} h` : `${Math.floor(min / 60)} h ${min % 60} min`
}
