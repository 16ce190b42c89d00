// A tarball given whole is read in memory (lib/add/tarInMemory.ts) when it is a plain one, and by node-tar's
// streaming parser otherwise. The two readings must agree: the same index, or the same refusal, for every input.
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

const cases: Array<[string, () => Buffer, AddFilesFromTarballOptions?]> = [
  ['a plain package, gzipped', () => makeTarball(plain)],
  ['a plain package, not gzipped', () => makeTarball(plain, { gzip: false })],
  ['a duplicate name (the later entry wins)', () => makeTarball([
    { path: 'p/index.js', body: 'first' }, { path: 'p/x.js', body: 'x' }, { path: 'p/index.js', body: 'second' }])],
  ['an empty package', () => makeTarball([{ path: 'package/', type: 'Directory' }])],
  ['a name that climbs out', () => makeTarball([{ path: 'package/ok.js', body: 'ok' }, { path: 'package/../../x', body: 'evil' }])],
  ['an absolute name', () => makeTarball([{ path: '/etc/passwd', body: 'evil' }])],
  ['more entries than maxEntries', () => makeTarball(plain), { maxEntries: 3 }],
  ['more bytes than maxUnpackedBytes', () => makeTarball(plain), { maxUnpackedBytes: 5000 }],
  ['an integrity that does not match', () => makeTarball(plain), { integrity: `sha512-${'A'.repeat(86)}==` }],
  ['a header with a wrong checksum', badChecksum],
  ['input far larger than what it unpacks to', () => makeTarball(
    Array.from({ length: 40 }, (_, i) => ({ path: `package/d${i}/`, type: 'Directory' as const })), { gzip: false }),
  { maxUnpackedBytes: 4000 }],
  ['a tarball cut short', () => { const t = makeTarball(plain); return t.subarray(0, t.length - 300) }],
  ['a pax extended header (long path)', paxTarball],
  ['not a tarball', () => Buffer.from('just some text, not a tarball '.repeat(40))],
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
  it.each(cases)('%s', async (_what, make, options) => {
    const bytes = make()
    const store = await openStore(tempDir())
    const whole = await outcome(store, bytes, options)
    const streamed = await outcome(store, Readable.from([bytes.subarray(0, 1000), bytes.subarray(1000)]), options)
    expect(whole).toEqual(streamed)
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

  it('a tarball given whole whose integrity does not match adds nothing to the store', async () => {
    const store = await openStore(tempDir())
    await expect(store.addFilesFromTarball(makeTarball(plain), { integrity: `sha512-${'A'.repeat(86)}==` }))
      .rejects.toMatchObject({ code: 'ERR_CAS_INTEGRITY' })
    expect(listFiles(path.join(store.root, 'files'))).toEqual([])
    await store.close()
  })
})
