// Write-behind in one process: close() waits for the uploads, and gives up on a stuck server after its timeout.
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterEach, expect, it } from 'vitest'
import { openStore, type CasError } from '../../lib/index.js'
import { serverObjects, startNginx } from '../helpers/nginx.js'
import { makePackages, servePackages } from '../helpers/packages.js'
import { signal } from '../helpers/gate.js'
import { tempDir } from '../helpers/tmp.js'

const stops: Array<() => Promise<void>> = []
afterEach(async () => { for (const stop of stops.splice(0)) await stop() })

it('close() waits for the background uploads: after it, the server holds every package', async () => {
  const server = await startNginx()
  stops.push(server.stop)
  const packages = makePackages(6, 'drain', 40_000)
  const reg = await servePackages(packages)
  stops.push(reg.close)
  const errors: CasError[] = []
  const store = await openStore(tempDir(), { remote: server.url, onRemoteError: e => errors.push(e) })
  await Promise.all(packages.map(async p => {
    await store.ensurePackage({ integrity: p.integrity, pkgId: p.pkgId, tarball: reg.url(p.file) })
  }))
  await store.close()
  expect(errors).toEqual([])
  expect(serverObjects(server.dataDir).filter(o => o.startsWith('index/'))).toHaveLength(6)
})

it('a server that stops answering never holds up an install, and close() abandons its uploads after closeTimeoutMs', async () => {
  // Answers every GET (the read-through's index lookups) with 404 at once, and never answers a HEAD or a PUT.
  const stuck: http.ServerResponse[] = []
  const uploading = signal()
  const remote = http.createServer((req, res) => {
    if (req.method === 'GET') res.writeHead(404).end()
    else {
      stuck.push(res)
      uploading.signal()
    }
  })
  await new Promise<void>(resolve => remote.listen(0, '127.0.0.1', resolve))
  stops.push(async () => {
    remote.closeAllConnections()
    await new Promise(resolve => remote.close(resolve))
  })
  const packages = makePackages(3, 'stuck', 10_000)
  const reg = await servePackages(packages)
  stops.push(reg.close)
  const errors: CasError[] = []
  const store = await openStore(tempDir(), {
    // Two request slots: hung uploads may hold only one of them, so each install's read-through still gets the other.
    remote: { url: `http://127.0.0.1:${(remote.address() as AddressInfo).port}/cas`, concurrency: 2, closeTimeoutMs: 300, timeoutMs: 600_000 },
    onRemoteError: e => errors.push(e),
  })
  for (const p of packages) {
    const result = await store.ensurePackage({ integrity: p.integrity, pkgId: p.pkgId, tarball: reg.url(p.file) })
    expect(result).toMatchObject({ fetched: true })
  }
  await uploading.signalled // the installs returned; their uploads are under way, and hang
  await store.close()
  // Hung uploads held one slot (half of two), never both: the rest waited, and were dropped unsent at close.
  expect(stuck).toHaveLength(1)
  expect(errors).toHaveLength(1)
  expect(errors[0]).toMatchObject({ code: 'ERR_CAS_REMOTE_UNAVAILABLE' })
  expect(errors[0]!.message).toContain('3 package upload(s) were still running after 300 ms and were abandoned')
})
