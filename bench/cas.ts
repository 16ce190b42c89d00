// The library under test, as its users run it: the built JavaScript, not the TypeScript sources through a loader.
// pnpm's and cacache's published JavaScript is what the bench compares with, and a loader would put its own
// cost in cas-store's figures (worker threads, which start as fresh isolates, would each register it again).
// The first bench process to import this builds lib/ into .bench-tmp/dist (never touching the repo's dist/);
// its children inherit CAS_BENCH_DIST and import the same build.
import { execFileSync } from 'node:child_process'
import path from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import type * as Cas from '../lib/index.js'

const repo = path.join(path.dirname(fileURLToPath(import.meta.url)), '..')

function build (): string {
  const out = path.join(repo, '.bench-tmp', 'dist')
  process.stderr.write('[bench] building lib/ into .bench-tmp/dist\n')
  execFileSync(process.execPath, [path.join(repo, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', 'tsconfig.build.json',
    '--outDir', out], { cwd: repo, stdio: 'inherit' })
  process.env.CAS_BENCH_DIST = out
  return out
}

const dist = process.env.CAS_BENCH_DIST ?? build()
const cas = await import(pathToFileURL(path.join(dist, 'index.js')).href) as typeof Cas

export const { openStore, hexToSri } = cas
export type { FileInfo, PackageIndex, Store } from '../lib/index.js'
