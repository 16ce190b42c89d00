// The README's nginx block for a team cache is run as written (paths and port swapped for temp ones): reads are
// open, a PUT needs the write token, and cas push / pull work through it.
import fs from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { openStore, packageIndexKey } from '../../lib/index.js'
import { startNginx, type Nginx } from '../helpers/nginx.js'
import { generatePackages } from '../helpers/generatedPackages.js'
import { tempDir } from '../helpers/tmp.js'

const readme = fs.readFileSync(path.join(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'README.md'), 'utf8')
const block = /```nginx\n([\s\S]*?)```/.exec(readme)?.[1]
const TOKEN = 'ci-write-token-for-the-readme-test'

let server: Nginx
beforeAll(async () => {
  expect(block, 'the README has an nginx block').toBeDefined()
  server = await startNginx({
    serverConfig: ({ port, dataDir, bodyTemp }) => block!
      .replace('listen 8080;', `listen 127.0.0.1:${port};`)
      .replace('/srv/cas/data/', `${dataDir}/`)
      .replace('/srv/cas/tmp', bodyTemp)
      .replace('CHANGE-ME-write-token', TOKEN),
  })
})
afterAll(async () => { await server?.stop() })

it('serves the README block: misses are 404, a PUT without the token is refused, with it a store round-trips', async () => {
  expect(block).toContain('dav_methods PUT;')
  expect(block).toContain('create_full_put_path on;')
  expect((await fetch(`${server.url}/files/00/x`, { method: 'HEAD' })).status).toBe(404)
  expect((await fetch(`${server.url}/files/00/x`, { method: 'PUT', body: 'x' })).status).toBe(403)
  expect((await fetch(`${server.url}/files/00/x`, { method: 'PUT', body: 'x', headers: { authorization: 'Bearer wrong' } })).status).toBe(403)

  const packages = generatePackages(3, { seed: 'readme', large: true })
  const keys = packages.map(p => packageIndexKey(p.integrity, p.pkgId))
  const a = await openStore(tempDir(), { remote: { url: server.url, token: TOKEN } })
  for (const [i, p] of packages.entries()) await a.writePackageIndex(keys[i]!, await a.addFilesFromTarball(p.tgz))
  expect(await a.pushToRemote()).toMatchObject({ packagesUploaded: 3, problems: [] })
  await a.close()
  const b = await openStore(tempDir(), { remote: { url: server.url, upload: false } }) // a fork's job: no token
  for (const key of keys) expect((await b.pullFromRemote(key)).status).toBe('pulled')
  await b.close()
  expect(server.errorLog()).not.toMatch(/\[(error|crit|alert|emerg)\]/)
})
