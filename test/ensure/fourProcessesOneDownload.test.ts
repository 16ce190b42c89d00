// Issue 12, test 1: four processes ask for the same 12 packages from a slow registry at once. Each tarball is
// downloaded exactly once (single flight per package across processes), every process gets the same index, and
// every package verifies. Fails when the package lock, or the re-check after the wait, is removed.
import path from 'node:path'
import { afterEach, expect, it } from 'vitest'
import { openStore, packageIndexKey } from '../../lib/index.js'
import { runFixture } from '../helpers/child.js'
import type { PackageServer } from '../helpers/packageServer.js'
import { makePackages, servePackages, writePackageList } from '../helpers/packages.js'
import { listFiles, tempDir } from '../helpers/tmp.js'

const servers: PackageServer[] = []
afterEach(async () => { for (const s of servers.splice(0)) await s.close() })

it('four processes x 12 packages from a slow server: each tarball is served once, all indexes agree and verify', async () => {
  const packages = makePackages(12, 'four', 200_000)
  const server = await servePackages(packages, { delayMs: 3 })
  servers.push(server)
  const dir = tempDir()
  const list = writePackageList(dir, server, packages)
  const children = [0, 1, 2, 3].map(() => runFixture('ensurePackages.ts', [path.join(dir, 'store'), list, '3']))
  await Promise.all(children.map(async c => await c.line(l => l === 'DONE')))

  for (const p of packages) expect(server.hits(p.file), p.file).toBe(1)
  expect(server.requests.every(r => r.completed)).toBe(true)
  const results = children.map(c => c.lines.filter(l => l.startsWith('RESULT ') || l.startsWith('ERROR ')))
  for (const lines of results) {
    expect(lines.filter(l => l.startsWith('ERROR'))).toEqual([])
    expect(lines).toHaveLength(12)
  }
  // Identical indexes everywhere; exactly one process fetched each package.
  for (const p of packages) {
    const seen = results.map(lines => lines.find(l => l.startsWith(`RESULT ${p.pkgId} `))!.split(' '))
    expect(new Set(seen.map(parts => parts.slice(3).join(' '))).size).toBe(1)
    expect(seen.filter(parts => parts[2] === 'true')).toHaveLength(1)
  }

  const store = await openStore(path.join(dir, 'store'))
  const referenced = new Set<string>()
  for (const p of packages) {
    const index = (await store.readPackageIndex(packageIndexKey(p.integrity, p.pkgId)))!
    expect(index.tarIntegrity).toBe(p.integrity)
    expect(await store.checkPkgFilesIntegrity(index)).toEqual({ passed: true, missing: [], corrupt: [], removed: [] })
    for (const info of index.files.values()) referenced.add(path.relative(path.join(store.root, 'files'), store.filePathFor(info.digest, info.mode)))
  }
  // No leftovers: no .tgz (or anything else unreferenced) in files/, no temp file, no lock file.
  expect(listFiles(path.join(store.root, 'files'))).toEqual([...referenced].sort())
  expect(listFiles(path.join(store.root, 'tmp'))).toEqual([])
  expect(listFiles(path.join(store.root, 'locks', 'packages'))).toEqual([])
  await store.close()
})
