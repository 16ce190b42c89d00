import { execFile } from 'node:child_process'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

const repoRoot = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', '..')

/** The result of one `cas` run. */
export interface CasRun {
  code: number
  stdout: string
  stderr: string
}

/**
 * Runs the `cas` command (from source, through tsx) as a real child process, with `env` replacing the
 * store-locating variables (so a test never touches the machine's own pnpm store).
 */
export async function runCas (args: string[], env: NodeJS.ProcessEnv = {}): Promise<CasRun> {
  const childEnv: NodeJS.ProcessEnv = { ...process.env, PNPM_HOME: undefined, XDG_DATA_HOME: undefined, ...env }
  for (const [k, v] of Object.entries(childEnv)) if (v === undefined) delete childEnv[k]
  return await new Promise(resolve => {
    execFile(process.execPath, ['--import', 'tsx', path.join(repoRoot, 'lib', 'cli', 'cas.ts'), ...args],
      { cwd: repoRoot, env: childEnv, maxBuffer: 64 * 1024 * 1024, encoding: 'buffer' },
      (err, stdout, stderr) => {
        const code = err === null ? 0 : typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : 1
        resolve({ code, stdout: stdout.toString('latin1'), stderr: stderr.toString('utf8') })
      })
  })
}

/**
 * Runs `cas … | <reader>` in bash (e.g. `head -2`), the way a user pipes it; `code` and `stderr` are cas's, `stdout`
 * is what the reader printed.
 */
export async function runCasPiped (args: string[], reader: string, env: NodeJS.ProcessEnv = {}): Promise<CasRun> {
  return await runInBash(args, reader, '', env)
}

/** Runs `cas … 2>&1 >/dev/null | <reader>`: only cas's stderr goes to the reader; `code` is cas's. */
export async function runCasStderrPiped (args: string[], reader: string, env: NodeJS.ProcessEnv = {}): Promise<CasRun> {
  return await runInBash(args, reader, ' 2>&1 >/dev/null', env)
}

async function runInBash (args: string[], reader: string, redirect: string, env: NodeJS.ProcessEnv): Promise<CasRun> {
  const childEnv: NodeJS.ProcessEnv = { ...process.env, PNPM_HOME: undefined, XDG_DATA_HOME: undefined, ...env }
  for (const [k, v] of Object.entries(childEnv)) if (v === undefined) delete childEnv[k]
  const quote = (s: string): string => `'${s.replace(/'/g, "'\\''")}'`
  const cas = [process.execPath, '--import', 'tsx', path.join(repoRoot, 'lib', 'cli', 'cas.ts'), ...args].map(quote).join(' ')
  return await new Promise(resolve => {
    execFile('bash', ['-c', `${cas}${redirect} | ${reader}; exit "\${PIPESTATUS[0]}"`],
      { cwd: repoRoot, env: childEnv, maxBuffer: 64 * 1024 * 1024, encoding: 'buffer' },
      (err, stdout, stderr) => {
        const code = err === null ? 0 : typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : 1
        resolve({ code, stdout: stdout.toString('latin1'), stderr: stderr.toString('utf8') })
      })
  })
}
