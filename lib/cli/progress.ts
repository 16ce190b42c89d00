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

/** A progress line: redrawn at most every 100 ms on a terminal, silent otherwise. */
export interface Progress {
  update: (done: number, extra?: string) => void
  setTotal: (total: number) => void
  /** Clears the line. */
  done: () => void
}

const REDRAW_MS = 100

/**
 * A one-line progress bar for long scans: `label [#####.....] 120/3,000 packages 40% 350/s ETA 8 s`. Drawn only
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

  const draw = (done: number, extra: string | undefined): void => {
    const elapsed = Math.max(1, now() - started)
    const rate = done / (elapsed / 1000)
    let line = `${options.label} ${formatCount(done)}${total === undefined ? '' : '/' + formatCount(total)} ${options.unit}`
    if (total !== undefined && total > 0) {
      const ratio = Math.min(1, done / total)
      const width = 20
      const filled = Math.round(ratio * width)
      line = `${options.label} [${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ` +
        `${formatCount(done)}/${formatCount(total)} ${options.unit} ${Math.floor(ratio * 100)}%`
      if (rate > 0 && done < total) line += ` ETA ${formatDuration(((total - done) / rate) * 1000)}`
    }
    line += ` ${formatCount(rate)}/s`
    if (extra !== undefined) line += ` ${extra}`
    const columns = (stream as { columns?: number }).columns ?? 80
    stream.write(`\r${line.slice(0, columns - 1).padEnd(columns - 1)}`)
    drawn = true
  }

  return {
    update (done, extra) {
      if (!active) return
      const t = now()
      if (t - lastDraw < REDRAW_MS) return
      lastDraw = t
      draw(done, extra)
    },
    setTotal (n) { total = n },
    done () {
      if (active && drawn) stream.write(`\r${' '.repeat(((stream as { columns?: number }).columns ?? 80) - 1)}\r`)
    },
  }
}
