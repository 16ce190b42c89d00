import fs from 'node:fs'
import path from 'node:path'
import { Readable } from 'node:stream'
import { describe, expect, it } from 'vitest'
import { openStore } from '../../lib/index.js'
import { packageRelativeName } from '../../lib/add/addFilesFromTarball.js'
import { contentOf, sha512Hex } from '../helpers/content.js'
import { makeTarball } from '../helpers/tarball.js'
import { listFiles, tempDir } from '../helpers/tmp.js'

const big = contentOf('tar', 1, 3 * 1024 * 1024 + 17)
const entries = [
  { path: 'package/', type: 'Directory' as const },
  { path: 'package/package.json', body: '{"name":"t","version":"1.0.0"}' },
  { path: 'package/lib/index.js', body: 'exports.x = 1\n' },
  { path: 'package/bin/t.js', body: '#!/usr/bin/env node\n', mode: 0o755 },
  { path: 'package/link.js', type: 'SymbolicLink' as const, linkpath: 'lib/index.js' },
  { path: 'package/big.bin', body: big },
]

describe('addFilesFromTarball', () => {
  it.each([
    ['gzipped, as a Buffer', () => makeTarball(entries)],
    ['plain tar, as a Buffer', () => makeTarball(entries, { gzip: false })],
    ['gzipped, as a stream', () => Readable.from(chunked(makeTarball(entries), 7777))],
    ['plain tar, as a stream', () => Readable.from(chunked(makeTarball(entries, { gzip: false }), 1000))],
  ])('adds regular files with header modes, skipping directories and links (%s)', async (_what, tarball) => {
    const store = await openStore(tempDir())
    const index = await store.addFilesFromTarball(tarball())
    expect([...index.files.keys()].sort()).toEqual(['big.bin', 'bin/t.js', 'lib/index.js', 'package.json'])
    expect(index.files.get('bin/t.js')!.mode).toBe(0o755)
    expect(index.files.get('lib/index.js')).toMatchObject({ mode: 0o644, digest: sha512Hex('exports.x = 1\n'), size: 14 })
    expect(index.files.get('big.bin')).toMatchObject({ digest: sha512Hex(big), size: big.length })
    const bin = index.files.get('bin/t.js')!
    expect(fs.statSync(store.filePathFor(bin.digest, bin.mode)).mode & 0o777).toBe(0o755)
    expect(await store.checkPkgFilesIntegrity(index)).toMatchObject({ passed: true })
    expect(listFiles(path.join(store.root, 'tmp'))).toEqual([])
    await store.close()
  })

  it('strips whatever the top folder is called, and lets a later duplicate entry win', async () => {
    const store = await openStore(tempDir())
    const index = await store.addFilesFromTarball(makeTarball([
      { path: 'node/index.js', body: 'first' },
      { path: 'node/index.js', body: 'second' },
    ]))
    expect(index.files.get('index.js')!.digest).toBe(sha512Hex('second'))
    await store.close()
  })

  describe('bad input', () => {
    it.each([
      ['../../x'],
      ['package/../../x'],
      ['/etc/passwd'],
      ['package/lib/../../../x'],
      ['C:/windows/x'],
    ])('rejects the tarball when an entry escapes the package (%s)', async name => {
      const store = await openStore(tempDir())
      const tarball = makeTarball([{ path: 'package/ok.js', body: 'ok' }, { path: name, body: 'evil' }])
      await expect(store.addFilesFromTarball(tarball)).rejects.toMatchObject({ code: 'ERR_CAS_UNSAFE_PATH', entry: name })
      await store.close()
    })

    it('rejects a truncated tarball and something that is not a tarball', async () => {
      const store = await openStore(tempDir())
      const whole = makeTarball(entries)
      await expect(store.addFilesFromTarball(whole.subarray(0, whole.length >> 1))).rejects.toMatchObject({ code: 'ERR_CAS_BAD_TARBALL' })
      await expect(store.addFilesFromTarball(Buffer.from('this is not a tarball at all, just text'.repeat(20))))
        .rejects.toMatchObject({ code: 'ERR_CAS_BAD_TARBALL' })
      await expect(store.addFilesFromTarball('nope' as unknown as Buffer)).rejects.toMatchObject({ code: 'ERR_CAS_INVALID_ARGUMENT' })
      expect(listFiles(path.join(store.root, 'tmp'))).toEqual([])
      await store.close()
    })

    it.each([1, 20, 100, 700])('rejects a .tgz missing its last %i bytes, as a Buffer and as a stream (no hang)', async cut => {
      const store = await openStore(tempDir())
      const whole = makeTarball([{ path: 'package/a.js', body: 'a'.repeat(3000) }, { path: 'package/b.js', body: contentOf('cut', 1, 50_000) }])
      const truncated = whole.subarray(0, whole.length - cut)
      await expect(store.addFilesFromTarball(truncated)).rejects.toMatchObject({ code: 'ERR_CAS_BAD_TARBALL' })
      await expect(store.addFilesFromTarball(Readable.from(chunked(truncated, 4096)))).rejects.toMatchObject({ code: 'ERR_CAS_BAD_TARBALL' })
      expect(listFiles(path.join(store.root, 'tmp'))).toEqual([])
      await store.close()
    })

    it('refuses an endless stream of zeros (what /dev/zero gives) once it passes maxUnpackedBytes', async () => {
      const store = await openStore(tempDir())
      async function * zeros (): AsyncGenerator<Buffer> {
        for (;;) yield Buffer.alloc(64 * 1024)
      }
      await expect(store.addFilesFromTarball(zeros(), { maxUnpackedBytes: 4 * 1024 * 1024 }))
        .rejects.toMatchObject({ code: 'ERR_CAS_BAD_TARBALL', message: expect.stringMatching(/maxUnpackedBytes/) })
      await store.close()
    })

    it('refuses a tarball with more entries than maxEntries, or unpacking past maxUnpackedBytes', async () => {
      const store = await openStore(tempDir())
      const tarball = makeTarball(Array.from({ length: 5 }, (_, i) => ({ path: `package/f${i}.js`, body: 'x'.repeat(1000) })))
      await expect(store.addFilesFromTarball(tarball, { maxEntries: 4 })).rejects.toMatchObject({ code: 'ERR_CAS_TOO_MANY_ENTRIES' })
      await expect(store.addFilesFromTarball(tarball, { maxUnpackedBytes: 4000 })).rejects.toMatchObject({ code: 'ERR_CAS_BAD_TARBALL' })
      expect((await store.addFilesFromTarball(tarball, { maxEntries: 5, maxUnpackedBytes: 5000 })).files.size).toBe(5)
      await store.close()
    })

    it('keeps names relative to the package root', () => {
      expect(packageRelativeName('package/a/b.js')).toBe('a/b.js')
      expect(packageRelativeName('package/./a//b.js')).toBe('a/b.js')
      expect(packageRelativeName('package/')).toBeUndefined()
      expect(packageRelativeName('package\\lib\\x.js')).toBe('lib/x.js')
    })
  })
})

function * chunked (data: Buffer, size: number): Generator<Buffer> {
  for (let i = 0; i < data.length; i += size) yield data.subarray(i, i + size)
}

describe('addFilesFromTarball: manifest and requiresBuild', () => {
  const pkg = (files: Record<string, string>): Buffer =>
    makeTarball(Object.entries(files).map(([name, body]) => ({ path: `package/${name}`, body })))

  it.each([
    ['a postinstall script', { 'package.json': '{"name":"p","version":"1.0.0","scripts":{"postinstall":"x","test":"y"}}' }, true],
    ['only a test script', { 'package.json': '{"name":"p","version":"1.0.0","scripts":{"test":"y"}}' }, false],
    ['a binding.gyp', { 'package.json': '{"name":"p","version":"1.0.0"}', 'binding.gyp': '{}' }, true],
    ['files under .hooks/', { 'package.json': '{"name":"p","version":"1.0.0"}', '.hooks/pre': 'x' }, true],
    ['no package.json', { 'index.js': '1' }, false],
  ])('with %s: requiresBuild is %s', async (_what, files, expected) => {
    const store = await openStore(tempDir())
    expect((await store.addFilesFromTarball(pkg(files))).requiresBuild).toBe(expected)
    await store.close()
  })

  it('carries the indexed subset of package.json; unparsable JSON gives no manifest, not a failure', async () => {
    const store = await openStore(tempDir())
    const good = await store.addFilesFromTarball(pkg({
      'package.json': '\uFEFF{"name":"p","version":"1.2.3","bin":"cli.js","readme":"long text","engines":{"node":">=20"}}',
    }))
    expect(good.manifest).toEqual({ name: 'p', version: '1.2.3', bin: 'cli.js', engines: { node: '>=20' } })
    const bad = await store.addFilesFromTarball(pkg({ 'package.json': '{"name": "p", ' }))
    expect(bad.manifest).toBeUndefined()
    expect(bad.files.has('package.json')).toBe(true)
    await store.close()
  })
})
