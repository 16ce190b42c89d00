// ensurePackage with a remote cache tier (a real nginx WebDAV server): a package read through the remote is
// indexed locally and never uploaded back; one fetched from the registry is uploaded behind the install.
import { afterEach, describe, expect, it } from 'vitest'
import { openStore, type CasError } from '../../lib/index.js'
import { serverObjects, startNginx } from '../helpers/nginx.js'
import { makePackages, servePackages } from '../helpers/packages.js'
import { tempDir } from '../helpers/tmp.js'

const stops: Array<() => Promise<void>> = []
afterEach(async () => { for (const stop of stops.splice(0)) await stop() })

describe('ensurePackage with a remote tier', () => {
  it('a package the remote has is pulled (no registry request) and not uploaded back', async () => {
    const server = await startNginx()
    stops.push(server.stop)
    const [pkg] = makePackages(1, 'remote-rt', 20_000)
    const registry = await servePackages([pkg!])
    stops.push(registry.close)
    const asked = { integrity: pkg!.integrity, pkgId: pkg!.pkgId, tarball: registry.url(pkg!.file) }
    const errors: CasError[] = []

    const first = await openStore(tempDir(), { remote: server.url, onRemoteError: e => errors.push(e) })
    await expect(first.ensurePackage(asked)).resolves.toMatchObject({ fetched: true })
    await first.close() // its upload drained: the remote holds the package
    expect(serverObjects(server.dataDir).filter(o => o.startsWith('index/'))).toHaveLength(1)
    const objectsBefore = serverObjects(server.dataDir).length

    const second = await openStore(tempDir(), { remote: server.url, onRemoteError: e => errors.push(e) })
    const pulled = await second.ensurePackage(asked)
    expect(pulled.fetched).toBe(true) // this call added it to its store (from the remote)
    expect(pulled.index.tarIntegrity).toBe(pkg!.integrity)
    expect(await second.readPackageIndex(pulled.key)).toEqual(pulled.index)
    expect(registry.hits(pkg!.file)).toBe(1)
    const stats = second.remoteStats! // a live count: read after close, it includes the drained uploads
    await second.close()
    expect(stats.requests.PUT).toBe(0)
    expect(stats.requests.HEAD).toBe(0)
    expect(serverObjects(server.dataDir)).toHaveLength(objectsBefore)
    expect(errors).toEqual([])
  })
})
