// Issue 12, test 4: a package whose index survives but whose files were removed (a manual cleanup, a prune by
// another tool) is not trusted: with `verify` (the default) it is fetched again, exactly once, even with four
// processes asking at the same moment. Fails when the fast check or the re-check under the lock skips verifying.
import fs from 'node:fs'
import path from 'node:path'
import { afterEach, expect, it } from 'vitest'
import { openStore } from '../../lib/index.js'
import { runFixture } from '../helpers/child.js'
import type { PackageServer } from '../helpers/packageServer.js'
import { makePackages, servePackages, writePackageList } from '../helpers/packages.js'
import { tempDir } from '../helpers/tmp.js'

const servers: PackageServer[] = []
afterEach(async () => { for (const s of servers.splice(0)) await s.close() })

it('an index whose files were removed is fetched again, once, with four processes asking', async () => {
  const [pkg] = makePackages(1, 'refetch', 400_000)
  const server = await servePackages([pkg!], { delayMs: 3 })
  servers.push(server)
  const dir = tempDir()
  const storeDir = path.join(dir, 'store')
  const store = await openStore(storeDir)
  const asked = { integrity: pkg!.integrity, pkgId: pkg!.pkgId, tarball: server.url(pkg!.file) }
  const first = await store.ensurePackage(asked)
  expect(first.fetched).toBe(true)
  for (const info of first.index.files.values()) fs.rmSync(store.filePathFor(info.digest, info.mode))
  // With verify off, the index is returned as it is (the caller's choice), and nothing is fetched.
  expect(await store.ensurePackage({ ...asked, verify: false })).toMatchObject({ fetched: false })
  expect(server.hits(pkg!.file)).toBe(1)
  await store.close()

  const list = writePackageList(dir, server, [pkg!])
  const children = [0, 1, 2, 3].map(() => runFixture('ensurePackages.ts', [storeDir, list, '1']))
  const results = await Promise.all(children.map(async c => await c.line(l => l.startsWith('RESULT ') || l.startsWith('ERROR '))))
  expect(results.every(r => r.startsWith('RESULT '))).toBe(true)
  expect(results.filter(r => r.split(' ')[2] === 'true')).toHaveLength(1)
  expect(new Set(results.map(r => r.split(' ').slice(3).join(' '))).size).toBe(1)
  expect(server.hits(pkg!.file)).toBe(2)

  const reopened = await openStore(storeDir)
  const again = await reopened.ensurePackage(asked)
  expect(again.fetched).toBe(false)
  expect(await reopened.checkPkgFilesIntegrity(again.index)).toMatchObject({ passed: true })
  expect(server.hits(pkg!.file)).toBe(2)
  await reopened.close()
})
