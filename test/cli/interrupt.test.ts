// Ctrl-C during `cas verify`: the scan stops after the packages in progress, says how far it got, exits 130, and
// the store is as consistent as before (every check and repair is atomic).
import { spawn } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import { Writable } from 'node:stream'
import { fileURLToPath } from 'node:url'
import { expect, it } from 'vitest'
import { main } from '../../lib/cli/main.js'
import { openStore, packageIndexKey, type PackageIndex } from '../../lib/index.js'
import { sriOf } from '../helpers/pnpm.js'
import { tempDir } from '../helpers/tmp.js'

const repoRoot = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', '..')
const PACKAGES = 10_000

/** True once process `pid` has `file` open: the command has opened the store and is about to scan it. */
function hasOpen (pid: number, file: string): boolean {
  try {
    return fs.readdirSync(`/proc/${pid}/fd`).some(fd => {
      try { return fs.readlinkSync(`/proc/${pid}/fd/${fd}`) === file } catch { return false }
    })
  } catch {
    return false
  }
}

it('Ctrl-C stops cas verify after the work in progress, reports how far it got, exits 130', async () => {
  const storeDir = tempDir()
  const store = await openStore(storeDir)
  await Promise.all(Array.from({ length: PACKAGES }, async (_, n) => {
    const added = await store.ensureFile(Buffer.from(`the one file of package ${n}\n`), { mode: 0o644 })
    const index: PackageIndex = { algo: 'sha512', files: new Map([['a.txt', { digest: added.digest, mode: 0o644, size: added.size, checkedAt: added.checkedAt }]]) }
    await store.writePackageIndex(packageIndexKey(sriOf(Buffer.from(String(n))), `p${n}@1.0.0`), index)
  }))
  await store.close()

  const child = spawn(process.execPath, ['--import', 'tsx', path.join(repoRoot, 'lib', 'cli', 'cas.ts'), 'verify', '--store', storeDir, '--jobs', '1', '--full', '--json'],
    { cwd: repoRoot, stdio: ['ignore', 'pipe', 'pipe'] })
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', chunk => { stdout += String(chunk) })
  child.stderr.on('data', chunk => { stderr += String(chunk) })
  const exited = new Promise<number | null>(resolve => child.on('exit', code => resolve(code)))
  const db = path.join(store.root, 'index.db')
  while (!hasOpen(child.pid!, db)) await new Promise(resolve => setTimeout(resolve, 5))
  child.kill('SIGINT')

  expect(await exited).toBe(130)
  expect(stderr).toContain('stopping after the work in progress')
  const report = JSON.parse(stdout) as { interrupted: boolean, packagesChecked: number, problems: unknown[] }
  expect(report.interrupted).toBe(true)
  expect(report.packagesChecked).toBeLessThan(PACKAGES)
  expect(report.problems).toEqual([])
  const after = await openStore(storeDir)
  expect(await after.verifyStore({ full: true })).toMatchObject({ healthy: true, packagesChecked: PACKAGES })
  await after.close()
})

/** The lines a terminal would show after `text` was written to it (`\r` returns to the line's start). */
function screen (text: string): string[] {
  const lines: string[] = []
  let line: string[] = []
  let col = 0
  for (const ch of text) {
    if (ch === '\n') {
      lines.push(line.join('').trimEnd())
      line = []
      col = 0
    } else if (ch === '\r') {
      col = 0
    } else {
      line[col++] = ch
    }
  }
  lines.push(line.join('').trimEnd())
  return lines.filter(l => l !== '')
}

it('Ctrl-C on a terminal: the progress line is cleared before "stopping", and not drawn again', async () => {
  const storeDir = tempDir()
  const store = await openStore(storeDir)
  for (let n = 0; n < 200; n++) {
    const added = await store.ensureFile(Buffer.from(`file of package ${n}\n`), { mode: 0o644 })
    const index: PackageIndex = { algo: 'sha512', files: new Map([['a.txt', { digest: added.digest, mode: 0o644, size: added.size, checkedAt: added.checkedAt }]]) }
    await store.writePackageIndex(packageIndexKey(sriOf(Buffer.from(String(n))), `p${n}@1.0.0`), index)
  }
  await store.close()
  const controller = new AbortController()
  let terminal = ''
  const stderr = Object.assign(new Writable({
    write (chunk, _enc, done) {
      terminal += String(chunk)
      if (String(chunk).includes('files/s')) controller.abort() // Ctrl-C as soon as the bar is on screen
      done()
    },
  }), { isTTY: true, columns: 100 })
  let stdout = ''
  const code = await main(['verify', '--store', storeDir, '--jobs', '1'], {
    stdout: new Writable({ write (chunk, _enc, done) { stdout += String(chunk); done() } }),
    stderr,
    env: {},
    signal: controller.signal,
  })
  expect(code).toBe(130)
  expect(terminal).toContain('files/s') // the bar was drawn
  expect(screen(terminal)).toEqual(['cas: stopping after the work in progress (Ctrl-C again to stop at once)...'])
  expect(stdout).toContain('Interrupted after')
})
