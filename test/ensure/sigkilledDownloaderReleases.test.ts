// Issue 12, test 2: the process downloading a package is SIGKILLed mid-tarball. Its lock dies with it; a process
// that was waiting (and said whom it waited for) takes over, downloads and completes the package. Until then no
// index row exists for the package: the index is written only after every file is in.
import path from 'node:path'
import { afterEach, expect, it } from 'vitest'
import { openStore, packageIndexKey } from '../../lib/index.js'
import { runFixture } from '../helpers/child.js'
import type { PackageServer } from '../helpers/packageServer.js'
import { makePackages, servePackages, writePackageList } from '../helpers/packages.js'
import { listFiles, tempDir } from '../helpers/tmp.js'

const servers: PackageServer[] = []
afterEach(async () => { for (const s of servers.splice(0)) await s.close() })

it('a downloader SIGKILLed mid-tarball: the waiting process completes the package; no index row before that', async () => {
  const [pkg] = makePackages(1, 'killed', 600_000)
  const server = await servePackages([pkg!])
  servers.push(server)
  const dir = tempDir()
  const storeDir = path.join(dir, 'store')
  const list = writePackageList(dir, server, [pkg!])
  const key = packageIndexKey(pkg!.integrity, pkg!.pkgId)

  server.hold(pkg!.file, 128 * 1024)
  const first = runFixture('ensurePackages.ts', [storeDir, list, '1'])
  await server.reached(pkg!.file) // the first process is mid-tarball, holding the package's lock
  const second = runFixture('ensurePackages.ts', [storeDir, list, '1'])
  expect(await second.line(l => l.startsWith('WAIT '))).toBe(`WAIT ${pkg!.pkgId} ${first.proc.pid}`)
  expect(server.hits(pkg!.file)).toBe(1) // the waiter did not download meanwhile

  server.hold(pkg!.file, 0) // hold the next answer before its headers (the first stays held mid-body)
  first.proc.kill('SIGKILL')
  await first.exited
  await server.reached(pkg!.file) // the waiter got the lock and asked for the tarball itself
  expect(server.hits(pkg!.file)).toBe(2)
  expect(server.requests[0]).toMatchObject({ completed: false })
  const store = await openStore(storeDir)
  expect(await store.readPackageIndex(key)).toBeUndefined()

  server.release(pkg!.file)
  expect(await second.line(l => l.startsWith('RESULT ') || l.startsWith('ERROR '))).toMatch(new RegExp(`^RESULT ${pkg!.pkgId} true `))
  await second.line(l => l === 'DONE')
  const index = (await store.readPackageIndex(key))!
  expect(index.tarIntegrity).toBe(pkg!.integrity)
  expect(await store.checkPkgFilesIntegrity(index)).toMatchObject({ passed: true })
  // The killed holder's lock file was reused by the waiter, which removed it.
  expect(listFiles(path.join(store.root, 'locks', 'packages'))).toEqual([])
  await store.close()
})
