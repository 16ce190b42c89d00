// fileState, the content probe the verifier and the writer share: what stands at a content path. Read errors are
// injected through a mock of hashFile (the read), since as root no permission makes a file unreadable.
import fs from 'node:fs'
import path from 'node:path'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { fileState } from '../../lib/verify/fileState.js'
import { sha512Hex } from '../helpers/content.js'
import { tempDir } from '../helpers/tmp.js'

const readError = vi.hoisted(() => ({ next: undefined as NodeJS.ErrnoException | undefined }))

vi.mock('../../lib/util/hash.js', async importOriginal => {
  const original = await importOriginal<typeof import('../../lib/util/hash.js')>()
  return {
    ...original,
    hashFile: async (file: string, size: number) => {
      const err = readError.next
      readError.next = undefined
      if (err !== undefined) throw err
      return await original.hashFile(file, size)
    },
  }
})
afterEach(() => { readError.next = undefined })

const errno = (code: string): NodeJS.ErrnoException => Object.assign(new Error(`${code}: injected`), { code })

describe('fileState', () => {
  const text = 'some content'
  const digest = sha512Hex(text)

  it('good, wrong (bytes), wrong (size, without reading), missing, not-a-file', async () => {
    const file = path.join(tempDir(), 'f')
    expect(await fileState(file, digest, undefined)).toBe('missing')
    fs.writeFileSync(file, text)
    expect(await fileState(file, digest, text.length)).toBe('good')
    expect(await fileState(file, digest, undefined)).toBe('good')
    expect(await fileState(file, sha512Hex('other'), undefined)).toBe('wrong')
    readError.next = errno('EIO') // a read would fail: the size screen must answer without one
    expect(await fileState(file, digest, text.length + 1)).toBe('wrong')
    readError.next = undefined
    expect(await fileState(path.dirname(file), digest, undefined)).toBe('not-a-file')
  })

  it('a file that vanishes between the stat and the read is missing; any other read error is ERR_CAS_FILE_ACCESS', async () => {
    const file = path.join(tempDir(), 'f')
    fs.writeFileSync(file, text)
    readError.next = errno('ENOENT')
    expect(await fileState(file, digest, undefined)).toBe('missing')
    readError.next = errno('EIO')
    await expect(fileState(file, digest, undefined)).rejects.toMatchObject({ code: 'ERR_CAS_FILE_ACCESS', path: file })
  })

  it('a path that cannot be stat\'ed (symlink loop) is ERR_CAS_FILE_ACCESS', async () => {
    const dir = tempDir()
    fs.symlinkSync('loop', path.join(dir, 'loop'))
    await expect(fileState(path.join(dir, 'loop', 'f'), digest, undefined))
      .rejects.toMatchObject({ code: 'ERR_CAS_FILE_ACCESS' })
  })
})
