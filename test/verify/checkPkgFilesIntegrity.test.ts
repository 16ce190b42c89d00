import crypto from 'node:crypto'
import fs from 'node:fs'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { openStore, type FileInfo } from '../../lib/index.js'
import { tempDir } from '../helpers/tmp.js'

const sha512 = (data: Buffer | string): string => crypto.createHash('sha512').update(data).digest('hex')

async function storeWith (files: Record<string, string>): Promise<{ store: Awaited<ReturnType<typeof openStore>>, index: { algo: 'sha512', files: Map<string, FileInfo> } }> {
  const store = await openStore(tempDir())
  const index = { algo: 'sha512' as const, files: new Map<string, FileInfo>() }
  for (const [name, text] of Object.entries(files)) {
    const added = await store.ensureFile(Buffer.from(text), { mode: name.endsWith('.sh') ? 0o755 : 0o644 })
    index.files.set(name, { digest: added.digest, mode: name.endsWith('.sh') ? 0o755 : 0o644, size: added.size, checkedAt: added.checkedAt })
  }
  return { store, index }
}

describe('checkPkgFilesIntegrity', () => {
  it('passes a healthy package (Map or plain object index)', async () => {
    const { store, index } = await storeWith({ 'index.js': 'a', 'lib/b.js': 'bb', 'bin/run.sh': '#!/bin/sh' })
    expect(await store.checkPkgFilesIntegrity(index)).toEqual({ passed: true, missing: [], corrupt: [], removed: [] })
    expect(await store.checkPkgFilesIntegrity({ algo: 'sha512', files: Object.fromEntries(index.files) }))
      .toMatchObject({ passed: true })
    await store.close()
  })

  it('fast path: trusts a file whose mtime is within 100 ms of checkedAt without reading it', async () => {
    const { store, index } = await storeWith({ 'a.js': 'original' })
    const info = index.files.get('a.js')!
    const file = store.filePathFor(info.digest, info.mode)
    // Same size, different bytes, mtime put back: only a read would notice. The fast path must not read.
    const mtime = fs.statSync(file).mtime
    fs.writeFileSync(file, 'ORIGINAL')
    fs.utimesSync(file, mtime, mtime)
    const trustedAt = info.checkedAt
    expect(await store.checkPkgFilesIntegrity(index)).toMatchObject({ passed: true })
    expect(info.checkedAt).toBe(trustedAt) // not read, so not renewed
    // Once checkedAt is old, the same file is read, found wrong and removed.
    info.checkedAt = fs.statSync(file).mtimeMs - 101
    expect(await store.checkPkgFilesIntegrity(index)).toEqual({ passed: false, missing: [], corrupt: ['a.js'], removed: ['a.js'] })
    expect(fs.existsSync(file)).toBe(false)
    await store.close()
  })

  it('slow path: a good file with an old checkedAt passes and gets checkedAt renewed', async () => {
    const { store, index } = await storeWith({ 'a.js': 'fine' })
    index.files.get('a.js')!.checkedAt = 0
    const before = Date.now()
    expect(await store.checkPkgFilesIntegrity(index)).toMatchObject({ passed: true })
    expect(index.files.get('a.js')!.checkedAt).toBeGreaterThanOrEqual(before)
    await store.close()
  })

  it('reports missing files as missing, not as an error, and removes nothing', async () => {
    const { store, index } = await storeWith({ 'a.js': 'here', 'b.js': 'gone' })
    const b = index.files.get('b.js')!
    fs.unlinkSync(store.filePathFor(b.digest, b.mode))
    expect(await store.checkPkgFilesIntegrity(index)).toEqual({ passed: false, missing: ['b.js'], corrupt: [], removed: [] })
    await store.close()
  })

  it('detects wrong size and wrong bytes, removes exactly those files', async () => {
    const { store, index } = await storeWith({ 'ok.js': 'ok', 'short.js': 'truncated later', 'flipped.js': 'flipped later' })
    for (const info of index.files.values()) info.checkedAt = 0
    const short = index.files.get('short.js')!
    const flipped = index.files.get('flipped.js')!
    fs.writeFileSync(store.filePathFor(short.digest, short.mode), 'trunc')
    fs.writeFileSync(store.filePathFor(flipped.digest, flipped.mode), 'FLIPPED later')
    const result = await store.checkPkgFilesIntegrity(index)
    expect(result.passed).toBe(false)
    expect(result.corrupt.sort()).toEqual(['flipped.js', 'short.js'])
    expect(result.removed.sort()).toEqual(['flipped.js', 'short.js'])
    const ok = index.files.get('ok.js')!
    expect(fs.existsSync(store.filePathFor(ok.digest, ok.mode))).toBe(true)
    await store.close()
  })

  it('checks the -exec path for executables', async () => {
    const { store, index } = await storeWith({ 'run.sh': '#!/bin/sh\necho hi' })
    const info = index.files.get('run.sh')!
    expect(fs.existsSync(store.filePathFor(info.digest, 0o755))).toBe(true)
    fs.unlinkSync(store.filePathFor(info.digest, 0o755))
    // Present as a non-executable only: still missing for this index.
    await store.ensureFile(Buffer.from('#!/bin/sh\necho hi'), { mode: 0o644 })
    expect(await store.checkPkgFilesIntegrity(index)).toMatchObject({ passed: false, missing: ['run.sh'] })
    await store.close()
  })

  it('verifiedFiles: skips paths already verified and records the ones it verifies', async () => {
    const { store, index } = await storeWith({ 'a.js': 'shared', 'b.js': 'other' })
    const verifiedFiles = new Set<string>()
    expect(await store.checkPkgFilesIntegrity(index, { verifiedFiles })).toMatchObject({ passed: true })
    const indexed = [...index.files.values()].map(i => store.filePathFor(i.digest, i.mode))
    expect([...verifiedFiles].sort()).toEqual(indexed.sort())
    // A path in the set is not looked at again, even though it is gone now.
    const a = index.files.get('a.js')!
    fs.unlinkSync(store.filePathFor(a.digest, a.mode))
    expect(await store.checkPkgFilesIntegrity(index, { verifiedFiles })).toMatchObject({ passed: true })
    expect(await store.checkPkgFilesIntegrity(index)).toMatchObject({ passed: false, missing: ['a.js'] })
    await store.close()
  })

  it('never removes a file whose bytes hash to its name, even when the index has the wrong size', async () => {
    const { store, index } = await storeWith({ 'a.js': 'right bytes' })
    const info = index.files.get('a.js')!
    info.size = 3
    info.checkedAt = 0
    expect(await store.checkPkgFilesIntegrity(index)).toMatchObject({ passed: true, removed: [] })
    expect(fs.readFileSync(store.filePathFor(info.digest, info.mode), 'utf8')).toBe('right bytes')
    await store.close()
  })

  describe('bad input', () => {
    it('rejects a malformed digest in the index without touching any path', async () => {
      const store = await openStore(tempDir())
      const index = { algo: 'sha512' as const, files: { evil: { digest: '../../../../tmp/x', mode: 0o644, size: 1 } } }
      await expect(store.checkPkgFilesIntegrity(index)).rejects.toMatchObject({ code: 'ERR_CAS_BAD_DIGEST' })
      await expect(store.checkPkgFilesIntegrity({ files: null } as never)).rejects.toMatchObject({ code: 'ERR_CAS_INVALID_ARGUMENT' })
      await expect(store.checkPkgFilesIntegrity({ algo: 'md5' as never, files: {} })).rejects.toMatchObject({ code: 'ERR_CAS_INVALID_ARGUMENT' })
      const digest = sha512('x')
      const bads = [
        { digest, mode: 0o644 }, { digest, mode: 0o644, size: -1 }, { digest, size: 1 }, { digest, size: 1, mode: -1 },
      ]
      for (const bad of bads) {
        await expect(store.checkPkgFilesIntegrity({ files: { f: bad as never } }))
          .rejects.toThrow(expect.objectContaining({ code: 'ERR_CAS_INVALID_ARGUMENT', message: expect.stringMatching(/"f" needs a non-negative integer size and mode/) }))
      }
      await store.close()
    })

    it('rejects an index that is not one, or names no digest, with a message saying what is wrong', async () => {
      const store = await openStore(tempDir())
      for (const bad of [null, undefined, {}, { files: 'a.js' }]) {
        await expect(store.checkPkgFilesIntegrity(bad as never))
          .rejects.toThrow(expect.objectContaining({ code: 'ERR_CAS_INVALID_ARGUMENT', message: expect.stringMatching(/must have a `files` Map or object/) }))
      }
      await expect(store.checkPkgFilesIntegrity({ algo: 'md5' as never, files: {} }))
        .rejects.toThrow(expect.objectContaining({ message: expect.stringMatching(/unsupported algo "md5"; only sha512/) }))
      await expect(store.checkPkgFilesIntegrity({ files: { f: null as never } })).rejects.toMatchObject({ code: 'ERR_CAS_BAD_DIGEST' })
      await store.close()
    })

    it('accepts what is valid at the edges: no algo, an empty file (size 0), mode 0', async () => {
      const { store, index } = await storeWith({ empty: '' })
      const info = index.files.get('empty')!
      expect(info.size).toBe(0)
      const check = async (empty: FileInfo): Promise<unknown> =>
        await store.checkPkgFilesIntegrity({ files: { empty } })
      expect(await check({ ...info, checkedAt: 0 })).toMatchObject({ passed: true })
      expect(await check({ ...info, mode: 0, checkedAt: 0 })).toMatchObject({ passed: true })
      await store.close()
    })

    it('reports a directory standing at a content path as corrupt but does not delete it', async () => {
      const store = await openStore(tempDir())
      const digest = sha512('dir in the way')
      const target = store.filePathFor(digest, 0o644)
      fs.mkdirSync(path.join(target, 'keep-me'), { recursive: true })
      const result = await store.checkPkgFilesIntegrity({ algo: 'sha512', files: { 'x.js': { digest, mode: 0o644, size: 14, checkedAt: 0 } } })
      expect(result).toEqual({ passed: false, missing: [], corrupt: ['x.js'], removed: [] })
      expect(fs.existsSync(path.join(target, 'keep-me'))).toBe(true)
      await store.close()
    })
  })
})
