import crypto from 'node:crypto'
import fs from 'node:fs'
import path from 'node:path'
import { Readable } from 'node:stream'
import { describe, expect, it } from 'vitest'
import { hexToSri, openStore } from '../../lib/index.js'
import { listFiles, tempDir } from '../helpers/tmp.js'

const sha512 = (data: Buffer | string): string => crypto.createHash('sha512').update(data).digest('hex')

describe('ensureFile', () => {
  it('stores a buffer at its content path with mode 0o644, and an executable at -exec with 0o755', async () => {
    const store = await openStore(tempDir())
    const data = Buffer.from('console.log(1)\n')
    const plain = await store.ensureFile(data, { mode: 0o600 })
    const exec = await store.ensureFile(data, { mode: 0o700 })
    expect(plain.digest).toBe(sha512(data))
    expect(plain.filePath).toBe(store.filePathFor(plain.digest, 0o644))
    expect(exec.filePath).toBe(plain.filePath + '-exec')
    expect(fs.readFileSync(plain.filePath)).toEqual(data)
    expect(fs.statSync(plain.filePath).mode & 0o777).toBe(0o644)
    expect(fs.statSync(exec.filePath).mode & 0o777).toBe(0o755)
    expect(plain.size).toBe(data.length)
    expect(listFiles(path.join(store.root, 'tmp'))).toEqual([])
    await store.close()
  })

  it('returns a checkedAt no earlier than the file mtime, so the verifier fast path trusts it', async () => {
    const store = await openStore(tempDir())
    const before = Date.now()
    const added = await store.ensureFile(Buffer.from('fresh'), { mode: 0o644 })
    expect(added.checkedAt).toBeGreaterThanOrEqual(before)
    expect(fs.statSync(added.filePath).mtimeMs - added.checkedAt).toBeLessThanOrEqual(100)
    await store.close()
  })

  it('does not rewrite content that is already in place (same inode, same mtime)', async () => {
    const store = await openStore(tempDir())
    const data = Buffer.from('already here')
    const first = await store.ensureFile(data, { mode: 0o644 })
    const old = new Date('2020-01-01T00:00:00Z')
    fs.utimesSync(first.filePath, old, old)
    const before = fs.statSync(first.filePath)
    const second = await store.ensureFile(data, { mode: 0o644 })
    const streamed = await store.ensureFile(Readable.from([data]), { mode: 0o644 })
    const after = fs.statSync(first.filePath)
    expect(second.filePath).toBe(first.filePath)
    expect(streamed.filePath).toBe(first.filePath)
    expect(after.ino).toBe(before.ino)
    expect(after.mtimeMs).toBe(before.mtimeMs)
    expect(second.checkedAt).toBeGreaterThan(after.mtimeMs)
    expect(listFiles(path.join(store.root, 'tmp'))).toEqual([])
    await store.close()
  })

  it('replaces wrong content at the path atomically (new inode, right bytes)', async () => {
    const store = await openStore(tempDir())
    const data = Buffer.from('the right bytes')
    const target = store.filePathFor(sha512(data), 0o644)
    fs.mkdirSync(path.dirname(target), { recursive: true })
    fs.writeFileSync(target, 'the wrong bytes')
    const before = fs.statSync(target).ino
    await store.ensureFile(data, { mode: 0o644 })
    expect(fs.readFileSync(target)).toEqual(data)
    expect(fs.statSync(target).ino).not.toBe(before)
    await store.close()
  })

  it('streams content of any size, hashing as it writes', async () => {
    const store = await openStore(tempDir())
    const chunks = Array.from({ length: 40 }, (_, i) => crypto.randomBytes(64 * 1024 + i))
    const whole = Buffer.concat(chunks)
    const added = await store.ensureFile(Readable.from(chunks), { mode: 0o755, digest: hexToSri(sha512(whole)) })
    expect(added.digest).toBe(sha512(whole))
    expect(added.size).toBe(whole.length)
    expect(fs.readFileSync(added.filePath).equals(whole)).toBe(true)
    expect(added.filePath.endsWith('-exec')).toBe(true)
    await store.close()
  })

  it('writes large buffers (over the sync limit) through the async path', async () => {
    const store = await openStore(tempDir())
    const data = crypto.randomBytes(3 * 1024 * 1024)
    const added = await store.ensureFile(data, { mode: 0o644 })
    expect(fs.readFileSync(added.filePath).equals(data)).toBe(true)
    await store.close()
  })

  it('with fsync: true stores the same bytes (fsync of the temp file and the folder)', async () => {
    const store = await openStore(tempDir(), { fsync: true })
    const small = await store.ensureFile(Buffer.from('durable'), { mode: 0o644 })
    const big = await store.ensureFile(Readable.from([crypto.randomBytes(2 * 1024 * 1024)]), { mode: 0o644 })
    expect(fs.readFileSync(small.filePath, 'utf8')).toBe('durable')
    expect(fs.statSync(big.filePath).size).toBe(2 * 1024 * 1024)
    await store.close()
  })

  describe('race-tolerant finalize', () => {
    // The rename can fail for reasons outside our control: here a cleaner removes our temp file just before the
    // rename. If another writer already put exactly this content in place, the caller got what it asked for.
    async function storeWhoseTempVanishes (putGoodFileFirst: boolean): Promise<Awaited<ReturnType<typeof openStore>>> {
      const dir = tempDir()
      return await openStore(dir, {
        _hooks: {
          'writer:locked': ({ path: target }) => {
            const tmp = path.join(dir, 'v11', 'tmp')
            for (const name of fs.readdirSync(tmp)) fs.unlinkSync(path.join(tmp, name))
            if (putGoodFileFirst) {
              fs.mkdirSync(path.dirname(target), { recursive: true })
              fs.writeFileSync(target, 'finalize me')
            }
          },
        },
      })
    }

    it('a failed rename is success when the right content already stands at the target', async () => {
      const store = await storeWhoseTempVanishes(true)
      const added = await store.ensureFile(Buffer.from('finalize me'), { mode: 0o644 })
      expect(fs.readFileSync(added.filePath, 'utf8')).toBe('finalize me')
      await store.close()
    })

    it('a failed rename with nothing good at the target throws ERR_CAS_TEMP_LOST naming the temp file', async () => {
      const store = await storeWhoseTempVanishes(false)
      await expect(store.ensureFile(Buffer.from('finalize me'), { mode: 0o644 })).rejects.toMatchObject({ code: 'ERR_CAS_TEMP_LOST', path: expect.stringMatching(/\/tmp\/.*\.cas-tmp$/) })
      expect(listFiles(path.join(store.root, 'tmp'))).toEqual([])
      expect(listFiles(path.join(store.root, 'files'))).toEqual([])
      await store.close()
    })
  })

  describe('bad input', () => {
    it('rejects content that does not match the given digest with ERR_CAS_INTEGRITY and leaves nothing', async () => {
      const store = await openStore(tempDir())
      const wrong = sha512('something else')
      await expect(store.ensureFile(Buffer.from('payload'), { mode: 0o644, digest: wrong }))
        .rejects.toMatchObject({ code: 'ERR_CAS_INTEGRITY', expected: wrong, actual: sha512('payload') })
      await expect(store.ensureFile(Readable.from([Buffer.from('payload')]), { mode: 0o644, digest: hexToSri(wrong) }))
        .rejects.toMatchObject({ code: 'ERR_CAS_INTEGRITY' })
      expect(listFiles(store.root).filter(f => !f.startsWith('locks/') && !f.startsWith('owners/') && !f.startsWith('index.db'))).toEqual([])
      await store.close()
    })

    it('rejects a malformed digest option before writing anything', async () => {
      const store = await openStore(tempDir())
      for (const digest of ['../../x', 'abc', 'sha512-nope', 'sha1-' + crypto.createHash('sha1').digest('base64')]) {
        await expect(store.ensureFile(Buffer.from('x'), { mode: 0o644, digest }))
          .rejects.toMatchObject({ code: 'ERR_CAS_BAD_DIGEST' })
      }
      expect(listFiles(path.join(store.root, 'files'))).toEqual([])
      await store.close()
    })

    it('rejects a bad mode or content type', async () => {
      const store = await openStore(tempDir())
      await expect(store.ensureFile(Buffer.from('x'), { mode: -1 })).rejects.toMatchObject({ code: 'ERR_CAS_INVALID_ARGUMENT' })
      await expect(store.ensureFile('text' as unknown as Buffer, { mode: 0o644 })).rejects.toMatchObject({ code: 'ERR_CAS_INVALID_ARGUMENT' })
      await store.close()
    })

    it('rejects a stream chunk that is neither bytes nor text with ERR_CAS_INVALID_ARGUMENT, leaving no temp', async () => {
      const store = await openStore(tempDir())
      const source = (async function * () { yield Buffer.from('ok so far'); yield 42 })()
      await expect(store.ensureFile(source, { mode: 0o644 })).rejects.toMatchObject({ code: 'ERR_CAS_INVALID_ARGUMENT' })
      expect(listFiles(path.join(store.root, 'tmp'))).toEqual([])
      await store.close()
    })

    it('fails with ERR_CAS_NOT_A_FILE when a directory stands at the content path, and leaves it alone', async () => {
      const store = await openStore(tempDir())
      const data = Buffer.from('blocked')
      const target = store.filePathFor(sha512(data), 0o644)
      fs.mkdirSync(path.join(target, 'someone-elses'), { recursive: true })
      await expect(store.ensureFile(data, { mode: 0o644 })).rejects.toMatchObject({ code: 'ERR_CAS_NOT_A_FILE', path: target })
      await expect(store.ensureFile(Readable.from([data]), { mode: 0o644 })).rejects.toMatchObject({ code: 'ERR_CAS_NOT_A_FILE' })
      expect(fs.statSync(path.join(target, 'someone-elses')).isDirectory()).toBe(true)
      expect(listFiles(path.join(store.root, 'tmp'))).toEqual([])
      await store.close()
    })

    it('removes its temp file when the source stream fails mid-way', async () => {
      const store = await openStore(tempDir())
      async function * failing (): AsyncGenerator<Buffer> {
        yield Buffer.alloc(100_000, 1)
        throw new Error('network reset')
      }
      await expect(store.ensureFile(failing(), { mode: 0o644 })).rejects.toThrow('network reset')
      expect(listFiles(store.root).filter(f => !f.startsWith('locks/') && !f.startsWith('owners/') && !f.startsWith('index.db'))).toEqual([])
      await store.close()
    })

    it('recreates the tmp folder if a user deleted it', async () => {
      const store = await openStore(tempDir())
      fs.rmSync(path.join(store.root, 'tmp'), { recursive: true })
      const added = await store.ensureFile(Buffer.from('after cleanup'), { mode: 0o644 })
      expect(fs.readFileSync(added.filePath, 'utf8')).toBe('after cleanup')
      await store.close()
    })
  })
})
