import type { CliContext } from './context.js'
import type { Progress } from './progress.js'

/**
 * When Ctrl-C aborts `ctx.signal`: clears the progress line (so it does not stay above the report) and says that
 * the command stops after the work in progress. For the long scans (`verify`, `prune`); a second Ctrl-C is
 * handled by the process (cas.ts), which leaves at once.
 */
export function announceStopOnAbort (ctx: CliContext, progress?: Progress): void {
  ctx.signal.addEventListener('abort', () => {
    // A cleared line leaves the cursor at its start; otherwise the terminal's "^C" ends the current line.
    const cleared = progress?.done() ?? false
    ctx.stderr.write(`${cleared ? '' : '\n'}cas: stopping after the work in progress (Ctrl-C again to stop at once)...\n`)
  }, { once: true })
}
