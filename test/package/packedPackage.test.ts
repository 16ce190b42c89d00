// What a consumer of the published package gets: the tarball `npm pack` makes (built by `prepack`), installed
// into a fresh project the way an installer author would, then type-checked and loaded.
import { execFile } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'

const repoRoot = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', '..')
const tsc = path.join(repoRoot, 'node_modules', 'typescript', 'bin', 'tsc')

interface Run { code: number, stdout: string, stderr: string }

async function run (cmd: string, args: string[], cwd: string): Promise<Run> {
  // The parent may be `npm test`: drop its lifecycle variables so the child npm behaves as if run by hand.
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^npm_(lifecycle|package)_/.test(k)))
  return await new Promise(resolve => {
    execFile(cmd, args, { cwd, env, maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
      const code = err === null ? 0 : typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : 1
      resolve({ code, stdout, stderr })
    })
  })
}

function expectOk (r: Run, what: string): void {
  if (r.code !== 0) throw new Error(`${what} failed (exit ${r.code}):\n${r.stdout}\n${r.stderr}`)
}

// Set up once for the file (a pack and an install take seconds): a copy of the sources as a fresh clone has them
// (no dist/), packed; a consumer project with the tarball installed.
let work: string
let source: string
let consumer: string
let packed: { filename: string, files: Array<{ path: string }> }

beforeAll(async () => {
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'cas-pack-')) // for the whole file: tempDir() is per test
  source = path.join(work, 'source')
  fs.mkdirSync(source)
  for (const entry of ['package.json', 'package-lock.json', 'README.md', 'LICENSE', 'tsconfig.json', 'tsconfig.build.json', 'lib']) {
    fs.cpSync(path.join(repoRoot, entry), path.join(source, entry), { recursive: true })
  }
  fs.symlinkSync(path.join(repoRoot, 'node_modules'), path.join(source, 'node_modules'))
  const pack = await run('npm', ['pack', '--json', '--pack-destination', work], source)
  expectOk(pack, 'npm pack')
  packed = (JSON.parse(pack.stdout) as Array<typeof packed>)[0]!

  consumer = path.join(work, 'consumer')
  fs.mkdirSync(consumer)
  fs.writeFileSync(path.join(consumer, 'package.json'), JSON.stringify({ name: 'consumer', version: '1.0.0', private: true, type: 'module' }))
  // --ignore-scripts: no native build (type-checking does not need one, and it would cost a minute of CPU).
  const install = await run('npm', ['install', '--ignore-scripts', '--prefer-offline', '--no-audit', '--no-fund', path.join(work, packed.filename)], consumer)
  expectOk(install, 'npm install of the packed tarball')
}, 180_000)

afterAll(() => { if (work !== undefined) fs.rmSync(work, { recursive: true, force: true }) })

describe('the packed package', () => {
  it('ships dist, LICENSE and README; no source map that points at sources it does not ship', () => {
    const files = packed.files.map(f => f.path)
    expect(files).toEqual(expect.arrayContaining(['LICENSE', 'README.md', 'package.json', 'dist/index.js', 'dist/index.d.ts', 'dist/cli/cas.js']))
    expect(fs.readFileSync(path.join(consumer, 'node_modules', 'cas-store', 'LICENSE'), 'utf8')).toMatch(/^MIT License/)
    const shipped = new Set(files)
    for (const map of files.filter(f => f.endsWith('.map'))) {
      const { sources } = JSON.parse(fs.readFileSync(path.join(consumer, 'node_modules', 'cas-store', map), 'utf8')) as { sources: string[] }
      for (const s of sources) expect(shipped, `${map} -> ${s}`).toContain(path.posix.join(path.posix.dirname(map), s))
    }
  })

  it('runs nothing when installed: no prepare or install scripts in the published manifest', () => {
    const manifest = JSON.parse(fs.readFileSync(path.join(consumer, 'node_modules', 'cas-store', 'package.json'), 'utf8')) as { scripts?: Record<string, string> }
    for (const hook of ['preinstall', 'install', 'postinstall', 'prepare']) expect(manifest.scripts ?? {}).not.toHaveProperty(hook)
    // The development checkout builds on pack instead (and in a git-dependency install, which packs too).
    const own = JSON.parse(fs.readFileSync(path.join(repoRoot, 'package.json'), 'utf8')) as { scripts: Record<string, string> }
    expect(own.scripts.prepack).toContain('npm run build')
  })

  it('type-checks in a consumer without @types/node (ES2022 library only, skipLibCheck off)', async () => {
    fs.writeFileSync(path.join(consumer, 'portable.ts'), [
      "import { openStore, CasError, FileAccessError, type VerifyReport } from 'cas-store'",
      '',
      "const store = await openStore('/tmp/a-store')",
      'const bytes = new Uint8Array([104, 105])',
      'const added = await store.ensureFile(bytes, { mode: 0o644 })',
      'const report: VerifyReport = await store.verifyStore({ full: true, signal: { aborted: false } })',
      'const index = await store.addFilesFromTarball(bytes)',
      'try { await store.close() } catch (err) { if (err instanceof FileAccessError) { const code: string = err.code; void code } }',
      'export const seen: Array<string | boolean | number> = [added.digest, report.healthy, index.files.size, CasError.name]',
      '',
    ].join('\n'))
    writeTsconfig(consumer, 'tsconfig.portable.json', ['portable.ts'], [])
    const check = await run(process.execPath, [tsc, '-p', 'tsconfig.portable.json'], consumer)
    expect(check.stdout + check.stderr).toBe('')
    expect(check.code).toBe(0)
  })

  it('type-checks in a consumer with @types/node, passing Buffers, streams and Node abort signals', async () => {
    const types = path.join(consumer, 'node_modules', '@types')
    fs.mkdirSync(types, { recursive: true })
    fs.symlinkSync(path.join(repoRoot, 'node_modules', '@types', 'node'), path.join(types, 'node'))
    fs.writeFileSync(path.join(consumer, 'node.ts'), [
      "import fs from 'node:fs'",
      "import { openStore, type VerifyStoreOptions } from 'cas-store'",
      '',
      "const store = await openStore('/tmp/a-store')",
      "await store.ensureFile(Buffer.from('hi'), { mode: 0o644 })",
      "await store.ensureFile(fs.createReadStream('/etc/hostname'), { mode: 0o755 })",
      "await store.addFilesFromTarball(fs.createReadStream('x.tgz'))",
      'const options: VerifyStoreOptions = { signal: new AbortController().signal }',
      'await store.verifyStore(options)',
      'await store.pruneStore({ signal: AbortSignal.timeout(1000) })',
      'await store.close()',
      '',
    ].join('\n'))
    writeTsconfig(consumer, 'tsconfig.node.json', ['node.ts', 'portable.ts'], ['node'])
    const check = await run(process.execPath, [tsc, '-p', 'tsconfig.node.json'], consumer)
    expect(check.stdout + check.stderr).toBe('')
    expect(check.code).toBe(0)
  })

  it('needs its native builds approved: without them (--ignore-scripts) openStore fails as the README says', async () => {
    const unbuilt = await run(process.execPath, ['--input-type=module', '-e',
      "const { openStore } = await import('cas-store'); await openStore(process.argv[1])", path.join(work, 'unbuilt-store')], consumer)
    expect(unbuilt.code).not.toBe(0)
    expect(unbuilt.stderr).toContain('ERR_CAS_NATIVE_ADDON')
    expect(unbuilt.stderr).toContain("Cannot find module './build/Release/fs_ext.node'")
    const readme = fs.readFileSync(path.join(repoRoot, 'README.md'), 'utf8').replace(/\s+/g, ' ')
    expect(readme).toContain('`openStore` fails with `ERR_CAS_NATIVE_ADDON`')
  })

  it('is ESM only: import works; require works where Node can require ES modules, else ERR_REQUIRE_ESM', async () => {
    // The built dist/ of the packed source, with the repository's native addons (the consumer's are not built).
    const imported = await run(process.execPath, ['--input-type=module', '-e', [
      "import { openStore } from './dist/index.js'",
      'const store = await openStore(process.argv[1])',
      "const { digest } = await store.ensureFile(Buffer.from('hello'), { mode: 0o644 })",
      'await store.close()',
      'console.log(digest.slice(0, 8))',
    ].join('\n'), path.join(work, 'store')], source)
    expect(imported).toMatchObject({ code: 0, stdout: '9b71d224\n' })
    const cli = await run(process.execPath, ['dist/cli/cas.js', '--version'], source)
    expect(cli).toMatchObject({ code: 0, stdout: '0.1.0\n' })
    // Node 20.19+ and 22.12+ load ES modules from require(); before, require() of this package throws
    // ERR_REQUIRE_ESM, as it does here with that feature switched off.
    const required = await run(process.execPath, ['-e', "console.log(typeof require('./dist/index.js').openStore)"], source)
    expect(required).toMatchObject({ code: 0, stdout: 'function\n' })
    const old = await run(process.execPath, ['--no-experimental-require-module', '-e', "require('./dist/index.js')"], source)
    expect(old.code).not.toBe(0)
    expect(old.stderr).toContain('ERR_REQUIRE_ESM')
  })
})

function writeTsconfig (dir: string, name: string, files: string[], types: string[]): void {
  fs.writeFileSync(path.join(dir, name), JSON.stringify({
    compilerOptions: {
      target: 'ES2022',
      module: 'NodeNext',
      moduleResolution: 'NodeNext',
      lib: ['ES2022'],
      types,
      strict: true,
      noEmit: true,
      skipLibCheck: false,
    },
    files,
  }, null, 2))
}
