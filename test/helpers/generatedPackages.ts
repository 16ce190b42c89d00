import { contentOf, corpusSizes } from './content.js'
import { sriOf } from './pnpm.js'
import { makeTarball } from './tarball.js'

/** A generated npm-style package: its tarball, integrity, id and the files inside (`package/` stripped). */
export interface GeneratedPackage {
  name: string
  version: string
  pkgId: string
  integrity: string
  tgz: Buffer
  files: Map<string, { body: Buffer, mode: number }>
}

/**
 * `count` packages made from deterministic content: each has a package.json, a few files of mixed sizes (some
 * over 1 MiB when `large`), a 100 kB file (over the remote pack limit), an executable bin, and a LICENSE shared by
 * every package (so packages share a file).
 */
export function generatePackages (count: number, { seed = 'pkgs', filesPer = 4, large = false } = {}): GeneratedPackage[] {
  const sizes = corpusSizes(count * filesPer)
  return Array.from({ length: count }, (_, p) => {
    const name = `${seed}-pkg-${p}`
    const version = `1.0.${p}`
    const files = new Map<string, { body: Buffer, mode: number }>()
    files.set('package.json', { body: Buffer.from(JSON.stringify({ name, version, bin: { [name]: 'bin/cli.js' } }, null, 2) + '\n'), mode: 0o644 })
    files.set('LICENSE', { body: Buffer.from('MIT, shared by every generated package\n'), mode: 0o644 })
    files.set('bin/cli.js', { body: Buffer.from(`#!/usr/bin/env node\nconsole.log(${JSON.stringify(name)})\n`), mode: 0o755 })
    // Over the pack limit: every package has a file that travels alone as well as the ones in its pack.
    files.set('lib/big.bin', { body: contentOf(`${seed}:${p}:big`, 0, 100_000 + p), mode: 0o644 })
    for (let f = 0; f < filesPer; f++) {
      const size = large ? sizes[p * filesPer + f]! : Math.min(sizes[p * filesPer + f]!, 20_000)
      files.set(`lib/file-${f}.js`, { body: contentOf(`${seed}:${p}`, f, size), mode: 0o644 })
    }
    const tgz = makeTarball([...files].map(([file, { body, mode }]) => ({ path: `package/${file}`, body, mode })))
    return { name, version, pkgId: `${name}@${version}`, integrity: sriOf(tgz), tgz, files }
  })
}
