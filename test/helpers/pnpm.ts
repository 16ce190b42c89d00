import { execFile } from 'node:child_process'
import crypto from 'node:crypto'
import fs from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { makeTarball, type TarEntry } from './tarball.js'

const here = path.dirname(fileURLToPath(import.meta.url))
/** The real pnpm 12 binary, installed as a dev dependency. */
export const PNPM = path.join(here, '..', '..', 'node_modules', '.bin', 'pnpm')

/** A fixture package: its package.json and its other files (name -> body, mode). */
export interface FixturePackage {
  manifest: Record<string, unknown> & { name: string, version: string }
  files: Record<string, { body: string, mode?: number }>
}

/** The fixture packages the interop tests install; two of them share a README, so one content file serves both. */
export const FIXTURES: FixturePackage[] = [
  {
    manifest: { name: 'pkg-a', version: '1.0.0', bin: { 'pkg-a': 'bin/cli.js' }, main: 'lib/index.js' },
    files: {
      'bin/cli.js': { body: '#!/usr/bin/env node\nconsole.log("pkg-a cli")\n', mode: 0o755 },
      'lib/index.js': { body: 'module.exports = "a"\n' },
      'README.md': { body: 'shared readme\n' },
    },
  },
  {
    manifest: { name: 'pkg-b', version: '2.0.0', scripts: { postinstall: 'node -e 1' } },
    files: {
      'index.js': { body: 'module.exports = "b"\n' },
      'README.md': { body: 'shared readme\n' },
    },
  },
  {
    manifest: { name: 'pkg-c', version: '3.1.4' },
    files: {
      'index.js': { body: 'module.exports = require("./lib/deep/deep.js")\n' },
      'lib/deep/deep.js': { body: 'module.exports = "c"\n' },
    },
  },
]

/** Packs a fixture as npm would (`package/` top folder); returns the .tgz and its sha512 SRI. */
export function packFixture (fixture: FixturePackage): { tgz: Buffer, integrity: string } {
  const entries: TarEntry[] = [{ path: 'package/package.json', body: JSON.stringify(fixture.manifest, null, 2) + '\n' }]
  for (const [name, file] of Object.entries(fixture.files)) {
    entries.push({ path: `package/${name}`, body: file.body, mode: file.mode ?? 0o644 })
  }
  const tgz = makeTarball(entries)
  return { tgz, integrity: sriOf(tgz) }
}

/** `sha512-<base64>` of some bytes. */
export function sriOf (bytes: Uint8Array): string {
  return 'sha512-' + crypto.createHash('sha512').update(bytes).digest('base64')
}

/**
 * Runs pnpm 12 in `cwd`, offline, with its home, config and cache folders inside `sandbox`, and without the
 * `npm_*` variables `npm test` exports (pnpm would read them as its own settings).
 */
export async function runPnpm (
  args: string[], cwd: string, sandbox: string,
): Promise<{ stdout: string, stderr: string }> {
  const env: NodeJS.ProcessEnv = {}
  for (const [name, value] of Object.entries(process.env)) {
    if (!name.toLowerCase().startsWith('npm_') && !name.startsWith('PNPM_')) env[name] = value
  }
  for (const dir of ['XDG_CONFIG_HOME', 'XDG_CACHE_HOME', 'XDG_DATA_HOME', 'XDG_STATE_HOME']) {
    env[dir] = path.join(sandbox, dir.toLowerCase())
  }
  env.HOME = sandbox
  env.CI = 'true'
  try {
    return await promisify(execFile)(PNPM, args, { cwd, env, timeout: 120_000 })
  } catch (err) {
    const e = err as Error & { stdout?: string, stderr?: string }
    throw new Error(`pnpm ${args.join(' ')} failed: ${e.message}\n${e.stdout ?? ''}\n${e.stderr ?? ''}`)
  }
}

/**
 * Writes the fixtures' tarballs into `dir` and a project depending on them through `file:` specifiers; returns
 * the project folder. Builds are allowed to be skipped, so a fixture with a postinstall script does not fail it.
 */
export function writeFileProject (dir: string, fixtures: FixturePackage[] = FIXTURES): string {
  const project = path.join(dir, 'project')
  fs.mkdirSync(path.join(dir, 'tarballs'), { recursive: true })
  fs.mkdirSync(project, { recursive: true })
  const dependencies: Record<string, string> = {}
  for (const fixture of fixtures) {
    const file = path.join(dir, 'tarballs', `${fixture.manifest.name}-${fixture.manifest.version}.tgz`)
    fs.writeFileSync(file, packFixture(fixture).tgz)
    dependencies[fixture.manifest.name] = `file:../tarballs/${path.basename(file)}`
  }
  fs.writeFileSync(path.join(project, 'package.json'), JSON.stringify({ name: 'project', version: '0.0.0', dependencies }))
  fs.writeFileSync(path.join(project, 'pnpm-workspace.yaml'), 'strictDepBuilds: false\n')
  return project
}
