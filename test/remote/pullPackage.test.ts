// Read-through never trusts the server: every wrong object it can hold is refused and nothing of it is stored.
import fs from 'node:fs'
import zlib from 'node:zlib'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { openStore, packageIndexKey } from '../../lib/index.js'
import { encodeRemoteIndex } from '../../lib/remote/indexCodec.js'
import { remoteFilePath, remoteIndexPath } from '../../lib/remote/layout.js'
import { sha512Hex } from '../helpers/content.js'
import { startNginx, type Nginx } from '../helpers/nginx.js'
import { generatePackages, type GeneratedPackage } from '../helpers/generatedPackages.js'
import { inspectServer } from '../helpers/remoteServer.js'
import { listFiles, tempDir } from '../helpers/tmp.js'

let server: Nginx
beforeAll(async () => { server = await startNginx() })
afterAll(async () => { await server.stop() })

/** Pushes `pkg` from a fresh store and returns its key and the digest of its largest file. */
async function published (pkg: GeneratedPackage): Promise<{ key: string, victim: string, victimBody: Buffer }> {
  const a = await openStore(tempDir(), { remote: server.url })
  const key = packageIndexKey(pkg.integrity, pkg.pkgId)
  await a.writePackageIndex(key, await a.addFilesFromTarball(pkg.tgz))
  await a.pushToRemote()
  await a.close()
  const victimBody = [...pkg.files.values()].map(f => f.body).sort((x, y) => y.length - x.length)[0]!
  return { key, victim: sha512Hex(victimBody), victimBody }
}

/** Replaces an object on the server, as a bad disk or a careless admin would (keeping nginx's owner). */
function overwrite (rel: string, data: Buffer | string): void {
  const file = path.join(server.dataDir, rel)
  const { uid, gid } = fs.statSync(file)
  fs.writeFileSync(file, data)
  fs.chownSync(file, uid, gid)
}

async function pullIntoEmpty (key: string): Promise<{ outcome: Awaited<ReturnType<import('../../lib/index.js').Store['pullFromRemote']>>, dir: string, indexed: boolean }> {
  const dir = tempDir()
  const b = await openStore(dir, { remote: server.url })
  const outcome = await b.pullFromRemote(key)
  const indexed = (await b.readPackageIndex(key)) !== undefined
  await b.close()
  return { outcome, dir, indexed }
}

describe('read-through refuses what is wrong on the server', () => {
  it('a blob whose bytes do not match its name (same size) is never stored, and no index is written', async () => {
    const [pkg] = generatePackages(1, { seed: 'corrupt-blob', filesPer: 3 })
    const { key, victim, victimBody } = await published(pkg!)
    const bad = Buffer.from(victimBody)
    bad[bad.length >> 1] = bad[bad.length >> 1]! ^ 0xff
    overwrite(remoteFilePath(victim), bad)

    const { outcome, dir, indexed } = await pullIntoEmpty(key)
    expect(outcome.status).toBe('bad')
    if (outcome.status === 'bad') {
      expect(outcome.error.code).toBe('ERR_CAS_REMOTE_CORRUPT')
      expect(outcome.error.message).toContain(remoteFilePath(victim))
      expect([...outcome.badFiles]).toEqual([victim])
    }
    expect(indexed).toBe(false)
    const stored = listFiles(path.join(dir, 'v11', 'files'))
    expect(stored.some(rel => rel.replace('/', '').startsWith(victim))).toBe(false)
    for (const rel of stored) expect(sha512Hex(fs.readFileSync(path.join(dir, 'v11', 'files', rel)))).toBe(rel.replace('/', '').replace(/-exec$/, ''))
    expect(listFiles(path.join(dir, 'v11', 'tmp'))).toEqual([])
  })

  it('an index naming a file the server lacks: no index is written', async () => {
    const [pkg] = generatePackages(1, { seed: 'missing-blob' })
    const { key, victim } = await published(pkg!)
    fs.rmSync(path.join(server.dataDir, remoteFilePath(victim)))
    const { outcome, indexed } = await pullIntoEmpty(key)
    expect(outcome).toMatchObject({ status: 'bad', error: { code: 'ERR_CAS_REMOTE_CORRUPT' } })
    if (outcome.status === 'bad') expect([...outcome.badFiles]).toEqual([victim])
    expect(indexed).toBe(false)
  })

  it('a packed file whose bytes are wrong in the pack is never stored, and no index is written', async () => {
    const [pkg] = generatePackages(1, { seed: 'corrupt-pack', filesPer: 4 })
    const { key } = await published(pkg!)
    const onServer = inspectServer(server.dataDir).packages.get(key)!
    const packRel = remoteFilePath(onServer.pack!.digest)
    const [victim, offset] = [...onServer.pack!.offsets].sort(([, a], [, b]) => b - a)[0]!
    const bytes = fs.readFileSync(path.join(server.dataDir, packRel))
    bytes[offset] = bytes[offset]! ^ 0x01
    overwrite(packRel, bytes)

    const { outcome, dir, indexed } = await pullIntoEmpty(key)
    expect(outcome).toMatchObject({ status: 'bad', error: { code: 'ERR_CAS_REMOTE_CORRUPT' } })
    if (outcome.status === 'bad') expect([...outcome.badFiles].sort()).toEqual([victim, onServer.pack!.digest].sort())
    expect(indexed).toBe(false)
    const stored = listFiles(path.join(dir, 'v11', 'files'))
    expect(stored.some(rel => rel.replace('/', '').startsWith(victim))).toBe(false)
    for (const rel of stored) expect(sha512Hex(fs.readFileSync(path.join(dir, 'v11', 'files', rel)))).toBe(rel.replace('/', '').replace(/-exec$/, ''))
  })

  it('an index naming a pack the server lacks: no index is written', async () => {
    const [pkg] = generatePackages(1, { seed: 'missing-pack' })
    const { key } = await published(pkg!)
    const pack = inspectServer(server.dataDir).packages.get(key)!.pack!
    fs.rmSync(path.join(server.dataDir, remoteFilePath(pack.digest)))
    const { outcome, indexed } = await pullIntoEmpty(key)
    expect(outcome).toMatchObject({ status: 'bad', error: { code: 'ERR_CAS_REMOTE_CORRUPT' } })
    if (outcome.status === 'bad') expect([...outcome.badFiles]).toEqual([pack.digest])
    expect(indexed).toBe(false)
  })

  const badIndexes: Array<[string, (key: string, pkg: GeneratedPackage, body: Buffer) => Buffer | string]> = [
    ['not JSON at all', () => 'garbage\x00\x01'],
    ['a gzip stream cut short', (_key, _pkg, body) => body.subarray(0, body.length - 9)],
    // A valid index padded with 80 MiB of white space: refused only because it inflates past the cap.
    ['a gzip bomb (inflates past 64 MiB)', (_key, _pkg, body) => zlib.gzipSync(Buffer.concat([zlib.gunzipSync(body), Buffer.alloc(80 * 1024 * 1024, 0x20)]))],
    ['another format', (_key, _pkg, body) => JSON.stringify({ ...JSON.parse(zlib.gunzipSync(body).toString()), format: 'something-else' })],
    ['a newer version', (_key, _pkg, body) => JSON.stringify({ ...JSON.parse(zlib.gunzipSync(body).toString()), version: 2 })],
    ['the index of another package (misfiled)', (_key, _pkg, body) => JSON.stringify({ ...JSON.parse(zlib.gunzipSync(body).toString()), key: packageIndexKey('sha512-AAAA', 'other@1.0.0') })],
    ['a file name that escapes the package', (_key, _pkg, body) => {
      const doc = JSON.parse(zlib.gunzipSync(body).toString())
      doc.files['../../escape.js'] = doc.files['package.json']
      return JSON.stringify(doc)
    }],
    ['a malformed digest', (_key, _pkg, body) => {
      const doc = JSON.parse(zlib.gunzipSync(body).toString())
      doc.files['package.json'].digest = 'abc'
      return JSON.stringify(doc)
    }],
    ['a size the file does not have', (_key, _pkg, body) => {
      const doc = JSON.parse(zlib.gunzipSync(body).toString())
      doc.files['lib/big.bin'].size += 1
      return JSON.stringify(doc)
    }],
    ['a packed file outside its pack', (_key, _pkg, body) => {
      const doc = JSON.parse(zlib.gunzipSync(body).toString())
      doc.files['package.json'].offset = doc.pack.size
      return JSON.stringify(doc)
    }],
  ]
  for (const [n, [what, make]] of badIndexes.entries()) {
    it(`an index with ${what}: refused, nothing indexed`, async () => {
      const [pkg] = generatePackages(1, { seed: `bad-index-${n}` })
      const { key } = await published(pkg!)
      const rel = remoteIndexPath(key)
      overwrite(rel, make(key, pkg!, fs.readFileSync(path.join(server.dataDir, rel))))
      const { outcome, indexed } = await pullIntoEmpty(key)
      expect(outcome).toMatchObject({ status: 'bad', error: { code: 'ERR_CAS_REMOTE_CORRUPT' } })
      expect(indexed).toBe(false)
    })
  }

  it('the encoder is the decoder\'s inverse (so the refusals above are the checks, not the encoding)', async () => {
    const [pkg] = generatePackages(1, { seed: 'roundtrip' })
    const { key } = await published(pkg!)
    const body = fs.readFileSync(path.join(server.dataDir, remoteIndexPath(key)))
    const store = await openStore(tempDir())
    const index = await store.addFilesFromTarball(pkg!.tgz)
    await store.close()
    const encoded = encodeRemoteIndex(key, index, inspectServer(server.dataDir).packages.get(key)!.pack)
    expect(Buffer.from(encoded).equals(body)).toBe(true)
    const { outcome, indexed } = await pullIntoEmpty(key)
    expect(outcome.status).toBe('pulled')
    expect(indexed).toBe(true)
  })
})
