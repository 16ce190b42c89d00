// The import scenario: a store full of the corpus, split into packages, imported into an empty node_modules by
// cas-store's importPackage and by pnpm's own importer (@pnpm/fs.indexed-pkg-importer 1000.x), same method, same
// run; then cas-store again onto the complete targets (the skip of an install whose packages are in place).
import fs from 'node:fs'
import path from 'node:path'
import { createRequire } from 'node:module'
import { hexToSri, openStore, type FileInfo, type PackageIndex, type Store } from './cas.js'

const require = createRequire(import.meta.url)
interface PnpmImportOptions { filesMap: Record<string, string>, force: boolean, resolvedFrom: string }
type PnpmImporter = (to: string, opts: PnpmImportOptions) => string | undefined
const { createIndexedPkgImporter } = require('@pnpm/fs.indexed-pkg-importer') as {
  createIndexedPkgImporter: (method: 'hardlink' | 'copy') => PnpmImporter
}
type PnpmFiles = Record<string, { integrity: string, mode: number, size: number, checkedAt?: number }>
const { checkPkgFilesIntegrity } = require('@pnpm/store.cafs') as {
  checkPkgFilesIntegrity: (
    storeDir: string, index: { files: PnpmFiles }, verifiedFilesCache?: Set<string>,
  ) => { passed: boolean }
}

/** One package of the bench: cas-store's index and pnpm's files map (name -> content path) of the same files. */
export interface BenchPackage {
  name: string
  index: PackageIndex
  filesMap: Record<string, string>
  /** The same index in pnpm 10's shape (`integrity` SRI strings), for its verifier. */
  pnpmFiles: PnpmFiles
}

/**
 * Splits the corpus's index into `count` packages of consecutive files, each with a small package.json of its own
 * (stored too), as real packages have; pnpm's files map points at the very same content files.
 */
export async function splitIntoPackages (
  storeDir: string, corpusIndex: PackageIndex, count: number,
): Promise<BenchPackage[]> {
  const store = await openStore(storeDir)
  const names = [...corpusIndex.files.keys()].sort()
  const per = Math.ceil(names.length / count)
  const packages: BenchPackage[] = []
  try {
    for (let p = 0; p * per < names.length; p++) {
      const name = `bench-pkg-${p}`
      const files = new Map<string, FileInfo>()
      const manifest = Buffer.from(JSON.stringify({ name, version: '1.0.0', main: 'index.js' }, null, 2))
      const stored = await store.ensureFile(manifest, { mode: 0o644 })
      files.set('package.json', { digest: stored.digest, mode: 0o644, size: stored.size, checkedAt: stored.checkedAt })
      for (const file of names.slice(p * per, (p + 1) * per)) files.set(file, corpusIndex.files.get(file)!)
      const filesMap: Record<string, string> = {}
      const pnpmFiles: PnpmFiles = {}
      for (const [file, info] of files) {
        filesMap[file] = store.filePathFor(info.digest, info.mode)
        const { mode, size, checkedAt } = info
        pnpmFiles[file] = { integrity: hexToSri(info.digest), mode, size, checkedAt }
      }
      packages.push({ name, index: { algo: 'sha512', files }, filesMap, pnpmFiles })
    }
  } finally {
    await store.close()
  }
  return packages
}

/**
 * cas-store: every package into `nm`, as one install does: one open store (opened before the clock starts, as an
 * installer has it open already; pnpm's importer has nothing to open either) and one verifiedFiles Set.
 */
export async function casImportAll (store: Store, packages: BenchPackage[], nm: string, method: 'hardlink' | 'copy'): Promise<number> {
  const verifiedFiles = new Set<string>()
  let imported = 0
  for (const pkg of packages) {
    if ((await store.importPackage(pkg.index, path.join(nm, pkg.name), { method, verifiedFiles })).imported) imported++
  }
  return imported
}

/** pnpm: a fresh importer (its method memory starts empty), every package into `nm`. */
export function pnpmImportAll (packages: BenchPackage[], nm: string, method: 'hardlink' | 'copy'): number {
  const importPackage = createIndexedPkgImporter(method)
  let imported = 0
  for (const pkg of packages) {
    if (importPackage(path.join(nm, pkg.name), { filesMap: pkg.filesMap, force: false, resolvedFrom: 'store' }) !== undefined) imported++
  }
  return imported
}

/**
 * pnpm's whole step, as its package requester runs it for a package found in the store: verify the package
 * (`@pnpm/store.cafs` checkPkgFilesIntegrity, one Set shared across the install), then import it. The same work
 * importPackage does.
 */
export function pnpmVerifyImportAll (storeRoot: string, packages: BenchPackage[], nm: string, method: 'hardlink' | 'copy'): number {
  const importPackage = createIndexedPkgImporter(method)
  const verified = new Set<string>()
  let imported = 0
  for (const pkg of packages) {
    if (!checkPkgFilesIntegrity(storeRoot, { files: pkg.pnpmFiles }, verified).passed) throw new Error(`pnpm found ${pkg.name} broken`)
    if (importPackage(path.join(nm, pkg.name), { filesMap: pkg.filesMap, force: false, resolvedFrom: 'store' }) !== undefined) imported++
  }
  return imported
}

/** Removes a node_modules made by a run (outside the timing). */
export function removeTree (dir: string): void {
  fs.rmSync(dir, { recursive: true, force: true })
}
