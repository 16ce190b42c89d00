import { formatDuration } from './duration.js'
import { formatCount } from './format.js'

/** Options of {@link createProgress}. */
export interface ProgressOptions {
  /** Where the bar is drawn (stderr, so stdout stays the result). Nothing is drawn unless it is a terminal. */
  stream?: NodeJS.WriteStream | (NodeJS.WritableStream & { isTTY?: boolean, columns?: number })
  label: string
  /** The unit counted, e.g. `packages`. */
  unit: string
  total?: number
  quiet?: boolean
  /** Injectable clock, for tests. */
  now?: () => number
}

/** A second count the bar follows when the main one has no known total: `215/321 packages`. */
export interface ProgressPart {
  done: number
  total: number | undefined
  unit: string
}

/** A progress line: redrawn at most every 100 ms on a terminal, silent otherwise. */
export interface Progress {
  /**
   * `done` counts the unit (and gives the rate); `part`, when given, is a count with a known total that the bar,
   * percentage and ETA follow instead (verify counts files, but knows the total only of packages); `note` is
   * appended as it is (push: bytes sent).
   */
  update: (done: number, part?: ProgressPart, note?: string) => void
  setTotal: (total: number) => void
  /** Clears the line and draws no more (later updates are ignored). True when there was a line to clear. */
  done: () => boolean
}

const REDRAW_MS = 100

/**
 * A one-line progress bar for long scans: `label [#####.....] 120/3,000 packages 40% ETA 8 s 350/s`, or with a
 * part: `verify 52,000 files (9,100 files/s) [#####.....] 120/3,000 packages 40% ETA 8 s`. Drawn only
 * when the stream is a terminal and not `quiet`, so piped or scripted output carries nothing but the result.
 */
export function createProgress (options: ProgressOptions): Progress {
  const stream = options.stream ?? process.stderr
  const now = options.now ?? Date.now
  const active = options.quiet !== true && stream.isTTY === true
  const started = now()
  let total = options.total
  let lastDraw = -Infinity
  let drawn = false
  let stopped = false

  const bar = (ratio: number): string => {
    const width = 20
    const filled = Math.round(Math.min(1, ratio) * width)
    return `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}]`
  }

  const draw = (done: number, part: ProgressPart | undefined, note: string | undefined): void => {
    const elapsed = Math.max(1, now() - started)
    const rate = done / (elapsed / 1000)
    let line: string
    if (total !== undefined && total > 0) {
      const ratio = Math.min(1, done / total)
      line = `${options.label} ${bar(ratio)} ${formatCount(done)}/${formatCount(total)} ${options.unit} ${Math.floor(ratio * 100)}%`
      if (rate > 0 && done < total) line += ` ETA ${formatDuration(((total - done) / rate) * 1000)}`
      line += ` ${formatCount(rate)}/s`
    } else {
      line = `${options.label} ${formatCount(done)} ${options.unit} (${formatCount(rate)} ${options.unit}/s)`
      if (part !== undefined && part.total !== undefined && part.total > 0) {
        const ratio = Math.min(1, part.done / part.total)
        const partRate = part.done / (elapsed / 1000)
        line += ` ${bar(ratio)} ${formatCount(part.done)}/${formatCount(part.total)} ${part.unit} ${Math.floor(ratio * 100)}%`
        if (partRate > 0 && part.done < part.total) line += ` ETA ${formatDuration(((part.total - part.done) / partRate) * 1000)}`
      } else if (part !== undefined) {
        line += `, ${formatCount(part.done)} ${part.unit}`
      }
    }
    if (note !== undefined) line += ` ${note}`
    const columns = widthOf(stream)
    drawn = true
    stream.write(`\r${line.slice(0, columns - 1).padEnd(columns - 1)}`)
  }

  return {
    update (done, part, note) {
      if (!active || stopped) return
      const t = now()
      if (t - lastDraw < REDRAW_MS) return
      lastDraw = t
      draw(done, part, note)
    },
    setTotal (n) { total = n },
    done () {
      const erase = active && drawn && !stopped
      stopped = true
      if (erase) stream.write(`\r${' '.repeat(widthOf(stream) - 1)}\r`)
      return erase
    },
  }
}

/**
 * The terminal's width, or 80 when it says none or an unusable one: a pty allocated without a size (`docker run
 * -t`, `script`) reports 0 columns, and a line cut to `columns - 1` would then throw.
 */
function widthOf (stream: unknown): number {
  const columns = (stream as { columns?: number }).columns
  return typeof columns === 'number' && columns >= 20 ? columns : 80
}
