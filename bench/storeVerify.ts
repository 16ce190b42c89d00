// The whole-store verify scenario: a store of many packages (~300 packages, ~50k files by default) built by the
// bench itself, then `cas verify`'s work (Store.verifyStore) timed against a bare statSync loop over the same
// content paths, and `--full` against `--full --jobs 1` (one file at a time, no threads).
// Functions take `openStore` from the caller, so the harness decides what is measured (the sources or dist/).
import crypto from 'node:crypto'
import fs from 'node:fs'
import type { openStore as OpenStore, PackageIndex } from './cas.js'
import { corpusSizes } from './corpus.js'

type Open = typeof OpenStore

/** Largest file of this store: the scenario is about many small files, and the build must stay quick. */
const MAX_SIZE = 256 * 1024

/** Builds the store with `packages` packages of `filesPerPackage` files; returns every content path (once). */
export async function buildPackageStore (
  open: Open, dir: string, packages: number, filesPerPackage: number, seed: number,
): Promise<string[]> {
  const sizes = corpusSizes(packages * filesPerPackage, seed)
  const store = await open(dir, { threads: 0 })
  const paths = new Set<string>()
  try {
    let block = crypto.createHash('sha512').update(`store-${seed}`).digest()
    for (let p = 0; p < packages; p++) {
      const index: PackageIndex = { algo: 'sha512', files: new Map() }
      for (let f = 0; f < filesPerPackage; f++) {
        const data = Buffer.alloc(Math.min(MAX_SIZE, sizes[p * filesPerPackage + f]!))
        // Fresh bytes at the head of every file make it unique; the rest is filler.
        block = crypto.createHash('sha512').update(block).digest()
        block.copy(data, 0)
        const mode = f % 8 === 0 ? 0o755 : 0o644
        const added = await store.ensureFile(data, { mode })
        index.files.set(`lib/file-${f}.js`, { digest: added.digest, mode, size: added.size, checkedAt: added.checkedAt })
        paths.add(added.filePath)
      }
      const integrity = 'sha512-' + crypto.createHash('sha512').update(`pkg-${seed}-${p}`).digest('base64')
      await store.writePackageIndex(`${integrity}\tpkg-${p}@1.0.0`, index)
    }
  } finally {
    await store.close()
  }
  return [...paths]
}

/** `cas verify` (fast check unless `full`), in process: open, verifyStore, close. Throws unless healthy. */
export async function casVerifyStore (
  open: Open, dir: string, options: { full?: boolean, jobs?: number } = {},
): Promise<number> {
  const store = await open(dir)
  try {
    const report = await store.verifyStore(options)
    if (!report.healthy) throw new Error(`the bench store failed verification: ${JSON.stringify(report.problems.slice(0, 3))}`)
    return report.filesChecked
  } finally {
    await store.close()
  }
}

/** The floor: one statSync per content path. */
export function statLoop (paths: string[]): void {
  for (const p of paths) fs.statSync(p)
}
