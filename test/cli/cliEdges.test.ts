// The `cas` command at its edges, from a second read of lib/cli: a terminal that reports 0 columns, an empty
// --store, keys typed with \t, --json on every outcome, and clean runs that leave nothing for verify to list.
import { execFile } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import { openStore, packageIndexKey, type PackageIndex } from '../../lib/index.js'
import { runCas, type CasRun } from '../helpers/cas.js'
import { tempDir } from '../helpers/tmp.js'
import { makeTarball } from '../helpers/tarball.js'
import { requireTool } from '../helpers/tools.js'

const repoRoot = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', '..')
const tsx = path.join(repoRoot, 'node_modules', 'tsx', 'dist', 'esm', 'index.mjs')
const casTs = path.join(repoRoot, 'lib', 'cli', 'cas.ts')

/** Runs cas with a chosen working directory (runCas always runs in the repository). */
async function runCasIn (cwd: string, args: string[]): Promise<CasRun> {
  const env: NodeJS.ProcessEnv = { ...process.env, HOME: cwd }
  delete env.PNPM_HOME
  delete env.XDG_DATA_HOME
  return await new Promise(resolve => {
    execFile(process.execPath, ['--import', tsx, casTs, ...args], { cwd, env }, (err, stdout, stderr) => {
      const code = err === null ? 0 : typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : 1
      resolve({ code, stdout, stderr })
    })
  })
}

/** Runs `cas` with stderr on a pseudo-terminal of `cols` columns (as in a CI job that allocates a tty). */
async function runCasOnTty (args: string[], cols: number, stdoutFile: string): Promise<CasRun> {
  requireTool('script', 'bsdutils', ['-qec', 'true', '/dev/null'], 'it gives the command a terminal of a chosen size')
  const quote = (s: string): string => `'${s.replace(/'/g, "'\\''")}'`
  const cas = [process.execPath, '--import', tsx, casTs, ...args].map(quote).join(' ')
  const inner = `stty cols ${cols} rows 24; ${cas} >${quote(stdoutFile)}; echo "exit=$?"`
  const env: NodeJS.ProcessEnv = { ...process.env }
  delete env.PNPM_HOME
  delete env.XDG_DATA_HOME
  return await new Promise(resolve => {
    execFile('script', ['-qec', inner, '/dev/null'], { cwd: repoRoot, env }, (_err, stdout, stderr) => {
      const code = Number(/exit=(\d+)/.exec(stdout)?.[1] ?? -1)
      resolve({ code, stdout: fs.readFileSync(stdoutFile, 'utf8'), stderr: stdout + stderr })
    })
  })
}

async function storeWithOnePackage (dir: string): Promise<{ storeDir: string, key: string }> {
  const storeDir = path.join(dir, 'store')
  const store = await openStore(storeDir)
  const index: PackageIndex = { algo: 'sha512', files: new Map() }
  for (const [name, text] of [['package.json', '{"name":"a","version":"1.0.0"}'], ['index.js', 'module.exports = 1\n']] as const) {
    const added = await store.ensureFile(Buffer.from(text), { mode: 0o644 })
    index.files.set(name, { digest: added.digest, mode: 0o644, size: added.size, checkedAt: added.checkedAt })
  }
  const key = packageIndexKey('sha512-' + Buffer.alloc(64, 1).toString('base64'), 'a@1.0.0')
  await store.writePackageIndex(key, index)
  await store.close()
  return { storeDir, key }
}

describe('cas on a terminal that reports 0 columns', () => {
  it('cas verify with stderr on a 0-column tty finishes and prints its report (exit 0), not "unexpected failure"', async () => {
    const dir = tempDir()
    const { storeDir } = await storeWithOnePackage(dir)
    const run = await runCasOnTty(['verify', '--store', storeDir], 0, path.join(dir, 'out.txt'))
    expect(run.stderr).not.toContain('unexpected failure')
    expect(run.code).toBe(0)
    expect(run.stdout).toContain('Healthy.')
  })
})

describe('--store given an empty value', () => {
  it('cas add <folder> --store "" is refused (exit 2) and makes no store in the current directory', async () => {
    const dir = tempDir()
    const folder = path.join(dir, 'folder')
    fs.mkdirSync(folder)
    fs.writeFileSync(path.join(folder, 'a.txt'), 'a\n')
    const cwd = path.join(dir, 'project')
    fs.mkdirSync(cwd)
    const run = await runCasIn(cwd, ['add', folder, '--store', ''])
    expect(fs.readdirSync(cwd)).toEqual([])
    expect(run.code).toBe(2)
    expect(run.stderr).toContain('--store was given an empty path')
  })
})

describe('package keys as cas prints them', () => {
  it('cas pull accepts a key with "\\t" typed as two characters, as cas import does and as its help writes it', async () => {
    const dir = tempDir()
    const { storeDir, key } = await storeWithOnePackage(dir)
    const typed = key.replace('\t', '\\t')
    // cas import takes the key as typed:
    const imported = await runCas(['import', typed, path.join(dir, 'target'), '--store', storeDir])
    expect(imported.code, imported.stderr).toBe(0)
    // cas pull, same key, same store (the package is there, so the remote is not even asked):
    const pulled = await runCas(['pull', typed, '--store', storeDir, '--remote', 'http://127.0.0.1:1/'])
    expect(pulled.stderr).not.toContain('ERR_CAS_USAGE')
    expect(pulled.code).toBe(0)
    expect(pulled.stdout).toContain('already in the store')
  })
})

describe('cas add --key typed with \\t', () => {
  it('is taken as the tab, as cas import and cas pull take it', async () => {
    const dir = tempDir()
    const tgz = path.join(dir, 'p.tgz')
    fs.writeFileSync(tgz, makeTarball([{ path: 'package/package.json', body: Buffer.from('{"name":"p","version":"1.0.0"}'), mode: 0o644 }]))
    const key = packageIndexKey('sha512-' + Buffer.alloc(64, 3).toString('base64'), 'p@1.0.0')
    const storeDir = path.join(dir, 'store')
    const run = await runCas(['add', tgz, '--store', storeDir, '--key', key.replace('\t', '\\t')])
    expect(run.code, run.stderr).toBe(0)
    const store = await openStore(storeDir)
    expect(await store.readPackageIndex(key)).toBeDefined()
    await store.close()
  })
})

describe('cas add --max-bytes', () => {
  it('raises or lowers the size limit of a folder (a sparse file counts at its full size); a bad size is a usage error', async () => {
    const dir = tempDir()
    const folder = path.join(dir, 'folder')
    fs.mkdirSync(folder)
    fs.writeFileSync(path.join(folder, 'sparse.bin'), '')
    fs.truncateSync(path.join(folder, 'sparse.bin'), 64 * 1024 * 1024)
    const storeDir = path.join(dir, 'store')
    const refused = await runCas(['add', folder, '--store', storeDir, '--max-bytes', '1M'])
    expect(refused.code).toBe(2)
    expect(refused.stderr).toContain('ERR_CAS_TOO_LARGE')
    expect((await runCas(['add', folder, '--store', storeDir, '--max-bytes', '64M'])).code).toBe(0)
    const tgz = path.join(dir, 'p.tgz') // and of a tarball: what it unpacks to
    fs.writeFileSync(tgz, makeTarball([{ path: 'package/big.js', body: Buffer.alloc(10_000, 0x61), mode: 0o644 }]))
    const tarball = await runCas(['add', tgz, '--store', storeDir, '--key', packageIndexKey('sha512-' + Buffer.alloc(64, 4).toString('base64'), 'p@1.0.0'), '--max-bytes', '1K'])
    expect(tarball.code).toBe(2)
    expect(tarball.stderr).toContain('ERR_CAS_BAD_TARBALL')
    const bad = await runCas(['add', folder, '--store', storeDir, '--max-bytes', '1.5G'])
    expect(bad.code).toBe(2)
    expect(bad.stderr).toContain('--max-bytes "1.5G" is not a size')
  })
})

describe('--json always puts a JSON document on stdout', () => {
  it('cas import --json of a key the store lacks: exit 1 and a JSON document saying so on stdout', async () => {
    const dir = tempDir()
    const { storeDir } = await storeWithOnePackage(dir)
    const missing = packageIndexKey('sha512-' + Buffer.alloc(64, 2).toString('base64'), 'nope@1.0.0')
    const run = await runCas(['import', missing, path.join(dir, 'target'), '--store', storeDir, '--json'])
    expect(run.code).toBe(1)
    expect(JSON.parse(run.stdout)).toMatchObject({ key: missing, error: 'ERR_CAS_NOT_FOUND' })
  })
})

describe('clean runs leave nothing for verify to report', () => {
  it('after `cas add <folder>` and `cas import`, both exiting 0, `cas verify` reports no stale temp files', async () => {
    const dir = tempDir()
    const { storeDir, key } = await storeWithOnePackage(dir)
    const folder = path.join(dir, 'folder')
    fs.mkdirSync(folder)
    for (let i = 0; i < 5; i++) fs.writeFileSync(path.join(folder, `f${i}.txt`), `file ${i}\n`)
    // Only what the cas runs below leave counts (the set-up above opened the store in this process).
    fs.rmSync(path.join(storeDir, 'v11', 'owners'), { recursive: true, force: true })
    expect((await runCas(['add', folder, '--store', storeDir])).code).toBe(0)
    expect((await runCas(['import', key, path.join(dir, 'target'), '--store', storeDir])).code).toBe(0)
    // With no grace, as the default 10 minutes' would be 10 minutes later.
    const run = await runCas(['verify', '--store', storeDir, '--grace', '0', '--json'])
    expect(run.code).toBe(0)
    expect(JSON.parse(run.stdout).staleTemps).toEqual([])
  })
})
