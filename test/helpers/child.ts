import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process'
import path from 'node:path'
import readline from 'node:readline'
import { fileURLToPath } from 'node:url'

const here = path.dirname(fileURLToPath(import.meta.url))
export const fixturesDir = path.join(here, '..', 'fixtures')
const repoRoot = path.join(here, '..', '..')

/** A child process running a TypeScript fixture, with its stdout read line by line. */
export interface Child {
  proc: ChildProcess
  /** Resolves with the first stdout line that satisfies `match` (rejects if the child exits first). */
  line: (match: (line: string) => boolean) => Promise<string>
  /** Every stdout line so far. */
  lines: string[]
  /** Everything the child wrote to stderr. */
  stderr: () => string
  /** Resolves with the exit code (or signal) when the child ends. */
  exited: Promise<{ code: number | null, signal: NodeJS.Signals | null }>
  send: (text: string) => void
}

/**
 * Starts `node --import tsx test/fixtures/<fixture> ...args`, optionally through a wrapper command
 * (e.g. `['unshare', '--pid', '--fork']`).
 */
export function runFixture (
  fixture: string, args: string[], options: SpawnOptions = {}, wrapper: string[] = [],
): Child {
  const command = [...wrapper, process.execPath, '--import', 'tsx', path.join(fixturesDir, fixture), ...args]
  const proc = spawn(command[0]!, command.slice(1), {
    cwd: repoRoot,
    stdio: ['pipe', 'pipe', 'pipe'],
    ...options,
  })
  const lines: string[] = []
  const waiters: Array<{ match: (line: string) => boolean, resolve: (line: string) => void }> = []
  let stderr = ''
  proc.stderr!.on('data', chunk => { stderr += String(chunk) })
  readline.createInterface({ input: proc.stdout! }).on('line', line => {
    lines.push(line)
    for (const waiter of waiters.splice(0)) {
      if (waiter.match(line)) waiter.resolve(line)
      else waiters.push(waiter)
    }
  })
  const exited = new Promise<{ code: number | null, signal: NodeJS.Signals | null }>(resolve => {
    proc.on('exit', (code, sig) => resolve({ code, signal: sig }))
  })
  // 'close' comes once the child's output is all read too ('exit' may come first on a busy machine, and a line
  // printed just before exiting would be judged missing).
  const closed = new Promise<{ code: number | null, signal: NodeJS.Signals | null }>(resolve => {
    proc.on('close', (code, sig) => resolve({ code, signal: sig }))
  })
  return {
    proc,
    lines,
    stderr: () => stderr,
    exited,
    send: text => proc.stdin!.write(text + '\n'),
    line: async match => {
      const seen = lines.find(match)
      if (seen !== undefined) return seen
      return await new Promise<string>((resolve, reject) => {
        waiters.push({ match, resolve })
        closed.then(({ code, signal }) => {
          // Let readline deliver the last lines first.
          setImmediate(() => {
            const late = lines.find(match)
            if (late !== undefined) resolve(late)
            else reject(new Error(`child exited (${code ?? signal}) before printing the awaited line; stderr:\n${stderr}`))
          })
        }, reject)
      })
    },
  }
}
