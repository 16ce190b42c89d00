// The writer's edges, each found by a mutant that survived the rest of the suite: the claim on its slow path and
// when chmod fails, the synchronous uncontended path, a directory appearing at the target, folders removed by a
// user, and input at the limits.
import fs from 'node:fs'
import path from 'node:path'
import { Readable } from 'node:stream'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { openStore, type Store } from '../../lib/index.js'
import { PathLock } from '../../lib/lock/pathLock.js'
import { StripeLocks } from '../../lib/lock/stripeLocks.js'
import type { TestHooks } from '../../lib/util/hooks.js'
import { sha512Hex } from '../helpers/content.js'
import { signal } from '../helpers/gate.js'
import { listFiles, tempDir } from '../helpers/tmp.js'

afterEach(() => { vi.restoreAllMocks() })

/** A store whose writer counts how often it wrote a temp file (a dedupe hit writes none). */
type Counting = Promise<{ store: Store, written: () => number }>
async function countingStore (dir = tempDir(), extra: TestHooks = {}): Counting {
  let written = 0
  const store = await openStore(dir, { _hooks: { 'writer:tempWritten': () => { written++ }, ...extra } })
  return { store, written: () => written }
}

describe('the dedupe claim', () => {
  it('on its slow path (stripe held by another process) still claims: no rewrite, ctime renewed', async () => {
    const dir = tempDir()
    const data = Buffer.from('content already in the store')
    const seed = await openStore(dir)
    const { filePath } = await seed.ensureFile(data, { mode: 0o644 })
    await seed.close()
    const other = new StripeLocks(path.join(dir, 'v11', 'locks')) // another process, as far as flock can tell
    expect(other.tryAcquireSync(parseInt(sha512Hex(data).slice(0, 2), 16))).toBe(true)
    const contended = signal()
    const { store, written } = await countingStore(dir, { 'lock:contended': contended.signal })
    const before = fs.statSync(filePath).ctimeMs
    while (Date.now() < before + 50) await new Promise(resolve => setImmediate(resolve)) // let the fs clock tick
    const writing = store.ensureFile(data, { mode: 0o644 })
    await contended.signalled
    other.release(parseInt(sha512Hex(data).slice(0, 2), 16))
    expect((await writing).filePath).toBe(filePath)
    expect(written()).toBe(0)
    expect(fs.statSync(filePath).ctimeMs).toBeGreaterThan(before)
    other.close()
    await store.close()
  })

  it('a chmod refused (EPERM: another user\'s file) leaves the content in place, claimed as it is', async () => {
    const { store, written } = await countingStore()
    const data = Buffer.from('someone else owns this file')
    await store.ensureFile(data, { mode: 0o644 })
    vi.spyOn(fs, 'chmodSync').mockImplementationOnce(() => { throw Object.assign(new Error('EPERM'), { code: 'EPERM' }) })
    await store.ensureFile(data, { mode: 0o644 })
    expect(written()).toBe(1)
    await store.close()
  })

  it('a file gone by the time of the chmod (ENOENT) is written again', async () => {
    const { store, written } = await countingStore()
    const data = Buffer.from('removed between the check and the claim')
    const { filePath } = await store.ensureFile(data, { mode: 0o644 })
    vi.spyOn(fs, 'chmodSync').mockImplementationOnce(() => { throw Object.assign(new Error('ENOENT'), { code: 'ENOENT' }) })
    await store.ensureFile(data, { mode: 0o644 })
    expect(written()).toBe(2)
    expect(fs.readFileSync(filePath).equals(data)).toBe(true)
    await store.close()
  })
})

describe('the uncontended writer takes the path lock synchronously', () => {
  it('a new file and a dedupe hit: rename and claim under the lock without its asynchronous path', async () => {
    const withLock = vi.spyOn(PathLock.prototype, 'withLock')
    const deduped: string[] = []
    const { store, written } = await countingStore(tempDir(), { 'writer:deduped': ({ path: p }) => { deduped.push(p) } })
    const data = Buffer.from('uncontended')
    const { filePath } = await store.ensureFile(data, { mode: 0o644 })
    expect(deduped).toEqual([]) // new content is not mistaken for a hit
    await store.ensureFile(data, { mode: 0o644 })
    expect(deduped).toEqual([filePath])
    expect(written()).toBe(1)
    expect(withLock).not.toHaveBeenCalled()
    await store.close()
  })
})

describe('what stands at the content path', () => {
  it('a directory that appears there after the temp file is written: ERR_CAS_NOT_A_FILE, no temp left', async () => {
    for (const asStream of [false, true]) {
      const data = Buffer.from(`blocked late (${String(asStream)})`)
      const store = await openStore(tempDir(), {
        _hooks: { 'writer:tempWritten': ({ path: p }) => { fs.mkdirSync(path.join(p, 'late'), { recursive: true }) } },
      })
      const target = store.filePathFor(sha512Hex(data), 0o644)
      await expect(store.ensureFile(asStream ? Readable.from([data]) : data, { mode: 0o644 }))
        .rejects.toMatchObject({ code: 'ERR_CAS_NOT_A_FILE', path: target })
      expect(listFiles(path.join(store.root, 'tmp'))).toEqual([])
      await store.close()
    }
  })

  it('a directory already there is reported before any temp file is written', async () => {
    const { store, written } = await countingStore()
    const data = Buffer.from('blocked early')
    fs.mkdirSync(store.filePathFor(sha512Hex(data), 0o644), { recursive: true })
    await expect(store.ensureFile(data, { mode: 0o644 })).rejects.toMatchObject({ code: 'ERR_CAS_NOT_A_FILE' })
    await expect(store.ensureFile(Readable.from([data]), { mode: 0o644 })).rejects.toMatchObject({ code: 'ERR_CAS_NOT_A_FILE' })
    expect(written()).toBe(0)
    await store.close()
  })

  it('a shorter (truncated) copy is replaced, and so is one that cannot be read', async () => {
    const { store, written } = await countingStore()
    const data = Buffer.from('the whole file, not a prefix of it')
    const target = store.filePathFor(sha512Hex(data), 0o644)
    fs.mkdirSync(path.dirname(target), { recursive: true })
    fs.writeFileSync(target, data.subarray(0, 10))
    await store.ensureFile(data, { mode: 0o644 })
    expect(fs.readFileSync(target).equals(data)).toBe(true)
    const readFileSync = fs.readFileSync
    vi.spyOn(fs, 'readFileSync').mockImplementationOnce((...args: Parameters<typeof readFileSync>) => {
      if (args[0] === target) throw Object.assign(new Error('EIO'), { code: 'EIO' })
      return readFileSync(...args)
    })
    await store.ensureFile(data, { mode: 0o644 })
    expect(written()).toBe(2)
    expect(fs.readFileSync(target).equals(data)).toBe(true)
    await store.close()
  })

  it('recreates files/ when a user removed the whole folder', async () => {
    const store = await openStore(tempDir())
    fs.rmSync(path.join(store.root, 'files'), { recursive: true })
    const added = await store.ensureFile(Buffer.from('after rm -rf files'), { mode: 0o644 })
    expect(fs.readFileSync(added.filePath, 'utf8')).toBe('after rm -rf files')
    await store.close()
  })
})

describe('input at the limits', () => {
  it('mode 0 is a mode; a negative one is refused with a message naming it', async () => {
    const store = await openStore(tempDir())
    expect((await store.ensureFile(Buffer.from('mode zero'), { mode: 0 })).filePath).not.toMatch(/-exec$/)
    await expect(store.ensureFile(Buffer.from('x'), { mode: -1 }))
      .rejects.toThrow(expect.objectContaining({ message: 'ensureFile: mode must be a non-negative integer, got -1' }))
    for (const bad of [null, undefined, 42]) {
      await expect(store.ensureFile(bad as never, { mode: 0o644 }))
        .rejects.toThrow(expect.objectContaining({ code: 'ERR_CAS_INVALID_ARGUMENT', message: 'ensureFile: content must be a Buffer or a readable stream' }))
    }
    await store.close()
  })

  it('a digest option that matches is accepted (buffer and stream)', async () => {
    const store = await openStore(tempDir())
    const data = Buffer.from('as announced')
    expect((await store.ensureFile(data, { mode: 0o644, digest: sha512Hex(data) })).digest).toBe(sha512Hex(data))
    const streamed = await store.ensureFile(Readable.from([data]), { mode: 0o644, digest: sha512Hex(data) })
    expect(streamed.digest).toBe(sha512Hex(data))
    await store.close()
  })

  it('a stream may yield strings; anything else is a TypeError naming what it must yield', async () => {
    const store = await openStore(tempDir())
    const added = await store.ensureFile(Readable.from(['hello ', 'world']), { mode: 0o644 })
    expect(fs.readFileSync(added.filePath, 'utf8')).toBe('hello world')
    expect(added.digest).toBe(sha512Hex('hello world'))
    await expect(store.ensureFile(Readable.from([1, 2]), { mode: 0o644 })).rejects.toThrow('a content stream must yield Buffers or strings')
    await store.close()
  })

  it('a temp folder that cannot hold files (a file in its place) is ERR_CAS_FILE_ACCESS, and the source is released', async () => {
    const store = await openStore(tempDir())
    const tmp = path.join(store.root, 'tmp')
    fs.rmSync(tmp, { recursive: true })
    fs.writeFileSync(tmp, 'not a folder')
    await expect(store.ensureFile(Buffer.from('small'), { mode: 0o644 })).rejects.toMatchObject({ code: 'ERR_CAS_FILE_ACCESS' })
    const source = Readable.from([Buffer.from('streamed')])
    await expect(store.ensureFile(source, { mode: 0o644 })).rejects.toMatchObject({ code: 'ERR_CAS_FILE_ACCESS' })
    expect(source.destroyed).toBe(true)
    await store.close()
  })

  it('recreates a removed tmp folder on the asynchronous path too (large buffer, stream)', async () => {
    const store = await openStore(tempDir())
    fs.rmSync(path.join(store.root, 'tmp'), { recursive: true })
    const big = Buffer.alloc(1024 * 1024 + 1, 7)
    expect(fs.readFileSync((await store.ensureFile(big, { mode: 0o644 })).filePath).equals(big)).toBe(true)
    fs.rmSync(path.join(store.root, 'tmp'), { recursive: true })
    expect(fs.readFileSync((await store.ensureFile(Readable.from([Buffer.from('s')]), { mode: 0o644 })).filePath, 'utf8')).toBe('s')
    await store.close()
  })
})
