// A tarball given whole is read in memory (lib/add/tarInMemory.ts) when it is a plain one, and by node-tar's
// streaming parser otherwise. The two readings must agree: the same index, or the same refusal, for every input.
import crypto from 'node:crypto'
import fs from 'node:fs'
import path from 'node:path'
import { Readable } from 'node:stream'
import zlib from 'node:zlib'
import * as tar from 'tar'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { IN_MEMORY_MAX_BYTES, tarEntriesInMemory } from '../../lib/add/tarInMemory.js'
import { openStore, type AddFilesFromTarballOptions, type Store } from '../../lib/index.js'
import { contentOf } from '../helpers/content.js'
import { makeTarball } from '../helpers/tarball.js'
import { listFiles, tempDir } from '../helpers/tmp.js'

afterEach(() => { vi.restoreAllMocks() })

const plain = [
  { path: 'package/', type: 'Directory' as const },
  { path: 'package/package.json', body: '{"name":"t","version":"1.0.0"}' },
  { path: 'package/lib/index.js', body: 'exports.x = 1\n' },
  { path: 'package/bin/t.js', body: '#!/usr/bin/env node\n', mode: 0o755 },
  { path: 'package/link.js', type: 'SymbolicLink' as const, linkpath: 'lib/index.js' },
  { path: 'package/empty.txt', body: '' },
  { path: 'package/mid.bin', body: contentOf('mem', 1, 70_001) },
]

/** A tarball made by node-tar itself from a folder, with a file name too long for ustar: a pax header says it. */
function paxTarball (): Buffer {
  const dir = tempDir()
  const deep = path.join(dir, 'package', 'lib')
  fs.mkdirSync(deep, { recursive: true })
  fs.writeFileSync(path.join(deep, `${'n'.repeat(120)}.js`), 'long name')
  fs.writeFileSync(path.join(dir, 'package', 'package.json'), '{"name":"pax"}')
  const file = path.join(dir, 'out.tgz')
  tar.c({ sync: true, gzip: true, cwd: dir, file, portable: true }, ['package'])
  return fs.readFileSync(file)
}

/** `tarball` with one header byte changed (its checksum no longer matches), gzipped again. */
function badChecksum (): Buffer {
  const raw = makeTarball(plain, { gzip: false })
  raw[512 + 100] = raw[512 + 100]! ^ 1 // the second header's mode field
  return zlib.gzipSync(raw)
}

/** A raw 512-byte header; `patch` edits its bytes, and the checksum is made right again. */
function rawHeader (fields: Record<string, unknown>, patch?: (block: Buffer) => void): Buffer {
  const block = Buffer.alloc(512)
  new tar.Header({ mode: 0o644, uid: 0, gid: 0, mtime: new Date(0), ...fields }).encode(block, 0)
  if (patch !== undefined) {
    patch(block)
    block.fill(0x20, 148, 156)
    let sum = 0
    for (const byte of block) sum += byte
    block.write(sum.toString(8).padStart(6, '0') + '\0 ', 148, 8, 'ascii')
  }
  return block
}
function body (text: string): Buffer {
  const data = Buffer.from(text)
  return Buffer.concat([data, Buffer.alloc((512 - data.length % 512) % 512)])
}
const END = Buffer.alloc(1024)
const pkgJson = [rawHeader({ path: 'package/package.json', size: 2, type: 'File' }), body('{}')]
const file = (name: string, patch?: (block: Buffer) => void): Buffer[] =>
  [rawHeader({ path: name, size: 2, type: 'File' }, patch), body('ab')]

/** [what, the bytes, options, read in memory (true) or left to node-tar (false)] */
const cases: Array<[string, () => Buffer, AddFilesFromTarballOptions | undefined, boolean]> = [
  ['a plain package, gzipped', () => makeTarball(plain), undefined, true],
  ['a plain package, not gzipped', () => makeTarball(plain, { gzip: false }), undefined, true],
  ['a duplicate name (the later entry wins)', () => makeTarball([
    { path: 'p/index.js', body: 'first' }, { path: 'p/x.js', body: 'x' }, { path: 'p/index.js', body: 'second' }]),
  undefined, true],
  ['a file, then a folder of the same name', () => Buffer.concat([...file('package/a'),
    rawHeader({ path: 'package/a/', type: 'Directory' }), END]), undefined, true],
  ['an empty package', () => makeTarball([{ path: 'package/', type: 'Directory' }]), undefined, true],
  ['a name that climbs out', () => makeTarball([{ path: 'package/ok.js', body: 'ok' }, { path: 'package/../../x', body: 'evil' }]),
    undefined, true],
  ['an absolute name', () => makeTarball([{ path: '/etc/passwd', body: 'evil' }]), undefined, true],
  ['a name with backslashes', () => Buffer.concat([...file('package\\..\\..\\x'), END]), undefined, true],
  ['a name in the ustar prefix field', () => Buffer.concat([...file('a.js', b => b.write('package/lib', 345)), END]),
    undefined, true],
  ['a NUL inside a name', () => Buffer.concat([...file('package/a.js', b => b.write('\0../../x', 12)), END]), undefined, true],
  ['a setuid mode, and a mode of 0', () => Buffer.concat([
    rawHeader({ path: 'package/s', size: 2, type: 'File', mode: 0o4755 }), body('ab'),
    ...file('package/z', b => b.write('0000000\0', 100)), END]), undefined, true],
  ['a symlink with a body', () => Buffer.concat([...pkgJson,
    rawHeader({ path: 'package/l', size: 600, type: 'SymbolicLink', linkpath: 'x' }), body('y'.repeat(600)), END]),
  undefined, true],
  ['one end block, then the end of the input', () => Buffer.concat([...file('package/a'), Buffer.alloc(512)]), undefined, true],
  ['two gzip members', () => {
    const t = makeTarball(plain, { gzip: false })
    return Buffer.concat([zlib.gzipSync(t.subarray(0, 1024)), zlib.gzipSync(t.subarray(1024))])
  }, undefined, true],
  ['more entries than maxEntries', () => makeTarball(plain), { maxEntries: 3 }, true],
  ['more bytes than maxUnpackedBytes', () => makeTarball(
    Array.from({ length: 5 }, (_, i) => ({ path: `package/f${i}.js`, body: 'x'.repeat(1000) }))), { maxUnpackedBytes: 4000 }, true],
  ['input larger than maxUnpackedBytes', () => makeTarball(
    Array.from({ length: 40 }, (_, i) => ({ path: `package/f${i}`, body: 'x'.repeat(500) })), { gzip: false }),
  { maxUnpackedBytes: 20_000 }, false],
  ['input far larger than what it unpacks to', () => makeTarball(
    Array.from({ length: 40 }, (_, i) => ({ path: `package/d${i}/`, type: 'Directory' as const })), { gzip: false }),
  { maxUnpackedBytes: 4000 }, false],
  ['an integrity that does not match', () => makeTarball(plain), { integrity: `sha512-${'A'.repeat(86)}==` }, true],
  ['a header with a wrong checksum', badChecksum, undefined, false],
  ['a number field that cannot be decoded', () => Buffer.concat([...pkgJson, ...file('package/m', b => { b[100] = 0x81 }), END]),
    undefined, false],
  ['a size past 2^53', () => Buffer.concat([...pkgJson,
    rawHeader({ path: 'package/s', type: 'File' }, b => { b[124] = 0x80; b.fill(0xff, 125, 136) }), END]), undefined, false],
  ['an empty name', () => Buffer.concat([...pkgJson, ...file('x', b => b.fill(0, 0, 100)), END]), undefined, false],
  ['a link without a target', () => Buffer.concat([...pkgJson, rawHeader({ path: 'package/l', type: 'Link' }), END]),
    undefined, false],
  ['a symlink without a target', () => Buffer.concat([...pkgJson, rawHeader({ path: 'package/l', type: 'SymbolicLink' }), END]),
    undefined, false],
  ['a file with a link target', () => Buffer.concat([...file('package/a.js', b => b.write('evil', 157)), END]), undefined, false],
  ['nothing but end blocks', () => Buffer.alloc(1024), undefined, false],
  ['nothing but end blocks, gzipped', () => zlib.gzipSync(Buffer.alloc(1024)), undefined, false],
  ['a plain tar that starts like zstd', () => Buffer.concat([...file('x', b => {
    b.fill(0, 0, 100)
    Buffer.from([0x28, 0xb5, 0x2f, 0xfd, 0x2f, 0x61]).copy(b, 0)
  }), END]), undefined, false],
  ['a GNU sparse entry', () => Buffer.concat([...file('package/a', b => { b[156] = 0x53 }), END]), undefined, false],
  ['a tarball cut short', () => { const t = makeTarball(plain); return t.subarray(0, t.length - 300) }, undefined, false],
  ['no end marker', () => Buffer.concat(file('package/a')), undefined, false],
  ['data after the gzip stream', () => Buffer.concat([makeTarball(plain), Buffer.from('garbage!')]), undefined, false],
  ['a pax extended header (long path)', paxTarball, undefined, false],
  ['not a tarball', () => Buffer.from('just some text, not a tarball '.repeat(40)), undefined, false],
]

/** The add's result, as comparable data: the index's files, or the error's code. */
async function outcome (
  store: Store, input: Buffer | Readable, options?: AddFilesFromTarballOptions,
): Promise<unknown> {
  try {
    const index = await store.addFilesFromTarball(input, options)
    const files = [...index.files].map(([name, f]) => [name, f.digest, f.mode, f.size]).sort()
    return { files, manifest: index.manifest, requiresBuild: index.requiresBuild }
  } catch (err) {
    return { code: (err as { code?: string }).code }
  }
}

describe('a tarball given whole: read in memory, or by node-tar; the same outcome either way', () => {
  it.each(cases)('%s', async (_what, make, options, readInMemory) => {
    const bytes = make()
    const whole = bytes.length <= (options?.maxUnpackedBytes ?? Infinity) && tarEntriesInMemory(bytes) !== undefined
    expect(whole).toBe(readInMemory)
    const store = await openStore(tempDir())
    const asBuffer = await outcome(store, bytes, options)
    const streamed = await outcome(store, Readable.from([bytes.subarray(0, 1000), bytes.subarray(1000)]), options)
    expect(asBuffer).toEqual(streamed)
    await store.close()
  })

  it('random bytes: a coded error both ways, the same one', async () => {
    const store = await openStore(tempDir())
    for (let i = 0; i < 20; i++) {
      const bytes = crypto.randomBytes(4096)
      if (i % 2 === 0) bytes.fill(0, 0, 2) // not gzip: read as a plain tar, header by header
      const asBuffer = await outcome(store, bytes)
      expect(asBuffer).toEqual(await outcome(store, Readable.from([bytes])))
      expect(asBuffer).toMatchObject({ code: expect.stringMatching(/^ERR_CAS_/) })
    }
    await store.close()
  })

  it('reads a plain tarball in memory; leaves a pax header, a bad checksum or a cut to node-tar', () => {
    expect(tarEntriesInMemory(makeTarball(plain))?.map(e => [e.path, e.type, e.size])).toEqual(
      plain.map(e => [e.path, e.type ?? 'File', Buffer.from(e.body ?? '').length]))
    expect(tarEntriesInMemory(paxTarball())).toBeUndefined()
    expect(tarEntriesInMemory(badChecksum())).toBeUndefined()
    const raw = makeTarball(plain, { gzip: false })
    expect(tarEntriesInMemory(raw)).toHaveLength(plain.length)
    expect(tarEntriesInMemory(raw.subarray(0, raw.length - 1024))).toBeUndefined() // no end marker
    expect(tarEntriesInMemory(raw.subarray(0, 512 + 100))).toBeUndefined() // a partial block
    expect(tarEntriesInMemory(Buffer.concat([raw, Buffer.from('trailing')]))).toBeUndefined() // data after the end
    const t = makeTarball(plain)
    expect(tarEntriesInMemory(t.subarray(0, t.length - 30))).toBeUndefined() // gzip cut short
  })

  it('leaves to node-tar entry types other than files, folders and links', () => {
    const raw = makeTarball([{ path: 'package/a.js', body: 'a' }], { gzip: false })
    const fifo = Buffer.from(raw)
    const fifoHeader = new tar.Header(fifo, 0)
    fifoHeader.type = 'FIFO'
    fifoHeader.encode(fifo, 0)
    expect(tarEntriesInMemory(fifo)).toBeUndefined()
  })

  it(`a tarball unpacking past ${IN_MEMORY_MAX_BYTES / 1024 / 1024} MiB is streamed, not read whole`, async () => {
    const gunzip = vi.spyOn(zlib, 'gunzipSync')
    const big = makeTarball([{ path: 'package/zeros.bin', body: Buffer.alloc(IN_MEMORY_MAX_BYTES + 1) }])
    expect(tarEntriesInMemory(big)).toBeUndefined()
    expect(gunzip).toHaveBeenCalledTimes(1) // it stopped at the cap: maxOutputLength, never the whole output
    expect(gunzip.mock.results[0]!.type).toBe('throw')
    const bigPlain = makeTarball([{ path: 'package/zeros.bin', body: Buffer.alloc(IN_MEMORY_MAX_BYTES + 1) }], { gzip: false })
    expect(tarEntriesInMemory(bigPlain)).toBeUndefined()
    // Cut short: a body that runs past the end.
    expect(tarEntriesInMemory(bigPlain.subarray(0, IN_MEMORY_MAX_BYTES))).toBeUndefined()
    const store = await openStore(tempDir())
    for (const tarball of [big, bigPlain]) {
      const index = await store.addFilesFromTarball(tarball)
      expect(index.files.get('zeros.bin')?.size).toBe(IN_MEMORY_MAX_BYTES + 1)
    }
    await store.close()
  })

  it('the index lists the files in the tarball\'s order, whatever order their writes finish in', async () => {
    // The first file is the largest (its write finishes last); the last one is empty. An importer takes the first
    // file as a package's witness when it has no package.json.
    const entries = [
      { path: 'p/big.bin', body: contentOf('order', 1, 900_000) },
      ...Array.from({ length: 12 }, (_, i) => ({ path: `p/f${i}.js`, body: `file ${i}` })),
      { path: 'p/empty.d.ts', body: '' },
    ]
    const store = await openStore(tempDir())
    const index = await store.addFilesFromTarball(makeTarball(entries))
    expect([...index.files.keys()]).toEqual(entries.map(e => e.path.slice(2)))
    await store.close()
  })

  it('a write that fails stops the add: no other write starts, and none is left running when it rejects', async () => {
    let written = 0
    let parked = 0
    let resumed = 0
    let afterFailure = 0
    let failed = false
    const store = await openStore(tempDir(), {
      _hooks: {
        'writer:tempWritten': async () => {
          if (failed) afterFailure++
          const n = ++written
          if (n === 3) throw Object.assign(new Error('disk on fire'), { code: 'EIO' })
          if (n < 3) { // two writes under way when the third fails: they finish a few turns later
            parked++
            for (let turn = 0; turn < 5; turn++) await new Promise(resolve => setImmediate(resolve))
            resumed++
          }
        },
      },
    })
    const entries = Array.from({ length: 40 }, (_, i) => ({ path: `package/f${i}.js`, body: `file ${i}` }))
    await expect(store.addFilesFromTarball(makeTarball(entries))).rejects.toThrow('disk on fire')
    failed = true
    expect({ parked, resumed }).toEqual({ parked: 2, resumed: 2 }) // settled before the add rejected
    for (let turn = 0; turn < 10; turn++) await new Promise(resolve => setImmediate(resolve))
    expect(afterFailure).toBe(0)
    expect(written).toBeLessThan(3 + 8) // at most the writes under way when the third failed
    await store.close()
  })

  it('a tarball given whole whose integrity does not match adds nothing to the store', async () => {
    const store = await openStore(tempDir())
    await expect(store.addFilesFromTarball(makeTarball(plain), { integrity: `sha512-${'A'.repeat(86)}==` }))
      .rejects.toMatchObject({ code: 'ERR_CAS_INTEGRITY' })
    expect(listFiles(path.join(store.root, 'files'))).toEqual([])
    await store.close()
  })
})
