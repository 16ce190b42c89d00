// The `integrity` option of addFilesFromTarball: the tarball is hashed while it streams through the parser.
import crypto from 'node:crypto'
import path from 'node:path'
import { Readable } from 'node:stream'
import { describe, expect, it } from 'vitest'
import { openStore } from '../../lib/index.js'
import { makeTarball } from '../helpers/tarball.js'
import { listFiles, tempDir } from '../helpers/tmp.js'

const tgz = makeTarball([
  { path: 'package/package.json', body: '{"name":"i","version":"1.0.0"}' },
  { path: 'package/big.bin', body: crypto.randomBytes(2 * 1024 * 1024) }, // over the 1 MiB sync limit: streamed
])
const other = makeTarball([{ path: 'package/package.json', body: '{"name":"o","version":"1.0.0"}' }])
const sri = (algorithm: string, bytes: Buffer): string => `${algorithm}-${crypto.createHash(algorithm).update(bytes).digest('base64')}`
const stream = (bytes: Buffer): Readable => {
  const pieces: Buffer[] = []
  for (let i = 0; i < bytes.length; i += 10_000) pieces.push(bytes.subarray(i, i + 10_000))
  return Readable.from(pieces)
}

describe('addFilesFromTarball({ integrity })', () => {
  it.each(['sha512', 'sha384', 'sha256', 'sha1'])('accepts a matching %s SRI, as a Buffer and as a stream', async algorithm => {
    const store = await openStore(tempDir())
    const integrity = sri(algorithm, tgz)
    expect((await store.addFilesFromTarball(tgz, { integrity })).files.size).toBe(2)
    expect((await store.addFilesFromTarball(stream(tgz), { integrity })).files.size).toBe(2)
    await store.close()
  })

  it.each([
    ['a Buffer', () => other],
    ['a stream', () => stream(other)],
  ])('fails with ERR_CAS_INTEGRITY (expected and actual as SRI) for the wrong bytes, as %s', async (_what, input) => {
    const store = await openStore(tempDir())
    await expect(store.addFilesFromTarball(input(), { integrity: sri('sha512', tgz) }))
      .rejects.toMatchObject({ code: 'ERR_CAS_INTEGRITY', expected: sri('sha512', tgz), actual: sri('sha512', other) })
    expect(listFiles(path.join(store.root, 'tmp'))).toEqual([])
    await store.close()
  })

  it('checks the strongest algorithm the string names, never a weaker one', async () => {
    const store = await openStore(tempDir())
    // sha1 matches, the sha512 beside it does not: a forged sha1 must not get past a string that pins sha512.
    const mixed = `${sri('sha1', tgz)} ${sri('sha512', other)}`
    await expect(store.addFilesFromTarball(tgz, { integrity: mixed })).rejects.toMatchObject({ code: 'ERR_CAS_INTEGRITY', expected: sri('sha512', other) })
    expect((await store.addFilesFromTarball(tgz, { integrity: `${sri('sha1', other)} ${sri('sha512', tgz)}` })).files.size).toBe(2)
    await store.close()
  })

  it('refuses an integrity naming no algorithm it checks, before reading anything', async () => {
    const store = await openStore(tempDir())
    for (const integrity of ['md5-' + crypto.createHash('md5').update(tgz).digest('base64'), 'not an sri', '']) {
      await expect(store.addFilesFromTarball(tgz, { integrity })).rejects.toMatchObject({ code: 'ERR_CAS_INVALID_ARGUMENT' })
    }
    expect(listFiles(path.join(store.root, 'files'))).toEqual([])
    await store.close()
  })

  it('a truncated tarball is ERR_CAS_BAD_TARBALL (which says more than a hash mismatch)', async () => {
    const store = await openStore(tempDir())
    await expect(store.addFilesFromTarball(stream(tgz.subarray(0, tgz.length - 5000)), { integrity: sri('sha512', tgz) }))
      .rejects.toMatchObject({ code: 'ERR_CAS_BAD_TARBALL' })
    await store.close()
  })
})
