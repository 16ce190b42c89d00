#!/usr/bin/env node
// The `cas` command. Everything but process wiring lives in main.ts, so tests can run it in-process too.
import { dropErrorOutputWhenClosed, exitQuietlyWhenOutputCloses } from './closedOutput.js'
import { main } from './main.js'

exitQuietlyWhenOutputCloses(process.stdout)
dropErrorOutputWhenClosed(process.stderr)
const controller = new AbortController()
let interrupts = 0
// Only the long scans stop gracefully (they say so: see interrupt.ts); any other command is short and atomic, and
// Ctrl-C ends it at once.
const interruptible = ['verify', 'prune'].includes(process.argv[2] ?? '')
if (interruptible) {
  process.on('SIGINT', () => {
    interrupts++
    if (interrupts > 1) {
      // Every repair is atomic (a rename, an unlink under the path lock, a committed transaction), and the kernel
      // drops this process's locks, so leaving at once is safe; it only skips the report.
      process.stderr.write('\ncas: stopped.\n')
      process.exit(130)
    }
    controller.abort()
  })
}

process.exitCode = await main(process.argv.slice(2), {
  stdout: process.stdout,
  stderr: process.stderr,
  env: process.env,
  signal: controller.signal,
})
