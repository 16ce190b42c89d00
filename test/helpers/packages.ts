import fs from 'node:fs'
import path from 'node:path'
import { contentOf } from './content.js'
import { sriOf } from './pnpm.js'
import { makeTarball } from './tarball.js'
import { startPackageServer, type PackageServer } from './packageServer.js'

/** A test package: its .tgz, integrity, pkgId and the tarball's name on the package server. */
export interface TestPackage {
  pkgId: string
  tgz: Buffer
  integrity: string
  file: string
}

/**
 * `count` npm-style packages (`package/` top folder): a package.json, a unique file of `size` bytes, an executable
 * and a README shared by all of them (one content file for every package).
 */
export function makePackages (count: number, prefix = 'pkg', size = 100_000): TestPackage[] {
  return Array.from({ length: count }, (_, i) => {
    const name = `${prefix}-${i}`
    const tgz = makeTarball([
      { path: 'package/package.json', body: JSON.stringify({ name, version: '1.0.0', bin: 'cli.js' }) },
      { path: 'package/data.bin', body: contentOf(name, i, size) },
      { path: 'package/cli.js', body: `#!/usr/bin/env node\nconsole.log(${JSON.stringify(name)})\n`, mode: 0o755 },
      { path: 'package/README.md', body: 'shared readme\n' },
    ])
    return { pkgId: `${name}@1.0.0`, tgz, integrity: sriOf(tgz), file: `${name}-1.0.0.tgz` }
  })
}

/** Serves the packages' tarballs from a local HTTP server. */
export async function servePackages (
  packages: TestPackage[], options?: Parameters<typeof startPackageServer>[1],
): Promise<PackageServer> {
  return await startPackageServer(new Map(packages.map(p => [p.file, p.tgz])), options)
}

/** Writes the list a child `ensurePackages.ts` reads; returns its path. */
export function writePackageList (dir: string, server: PackageServer, packages: TestPackage[], name = 'packages.json'): string {
  const file = path.join(dir, name)
  const list = packages.map(p => ({ integrity: p.integrity, pkgId: p.pkgId, url: server.url(p.file) }))
  fs.writeFileSync(file, JSON.stringify(list))
  return file
}
