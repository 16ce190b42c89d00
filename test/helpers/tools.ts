import { spawnSync } from 'node:child_process'

/**
 * Makes sure a Linux tool a test needs can run, else throws an error naming it and the Debian package that has
 * it. A missing tool fails the test: a race test that skips itself silently proves nothing, in CI least of all.
 * `probe` runs `command` with these arguments; a non-zero exit fails too, with the tool's own stderr.
 */
export function requireTool (command: string, debianPackage: string, probe: string[], why: string): void {
  const run = spawnSync(command, probe, { encoding: 'utf8' })
  if (run.error !== undefined) {
    const code = (run.error as NodeJS.ErrnoException).code
    throw new Error(`this test needs \`${command}\` (${why}), which cannot be run here (${code ?? run.error.message}): ` +
      `install it (Debian: apt-get install ${debianPackage})`)
  }
  if (run.status !== 0) {
    throw new Error(`this test needs \`${command} ${probe.join(' ')}\` to work (${why}), but it exited with ` +
      `${run.status ?? run.signal}: ${run.stderr.trim()}`)
  }
}
