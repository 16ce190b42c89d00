// A temp file that cannot be opened, written or closed: the writer fails with ERR_CAS_FILE_ACCESS and leaves no
// temp file, on each of its three paths (a small Buffer, written synchronously; a large Buffer, through the pool;
// a stream). A failed close means the file is not whole (NFS reports a deferred write error there: EIO, EDQUOT);
// the descriptor is released either way, as close(2) does on Linux. A stream whose temp cannot be opened is
// destroyed (a file stream holds a descriptor until then).
import crypto from 'node:crypto'
import fs from 'node:fs'
import path from 'node:path'
import { Readable } from 'node:stream'
import gfs from 'graceful-fs'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { openStore } from '../../lib/index.js'
import { listFiles, tempDir } from '../helpers/tmp.js'

afterEach(() => { vi.restoreAllMocks() })

const eio = (): NodeJS.ErrnoException => Object.assign(new Error('EIO: i/o error, close'), { code: 'EIO', errno: -5, syscall: 'close' })
const enospc = (): NodeJS.ErrnoException => Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC', errno: -28, syscall: 'write' })

/** Whether `fd` is one of the writer's temp files (asked before it is closed). */
function isTemp (fd: number): boolean {
  try {
    return fs.readlinkSync(`/proc/self/fd/${fd}`).endsWith('.cas-tmp')
  } catch {
    return false
  }
}

function failTempCloses (): void {
  const closeSync = fs.closeSync
  vi.spyOn(fs, 'closeSync').mockImplementation((fd: number) => {
    const temp = isTemp(fd)
    closeSync(fd)
    if (temp) throw eio()
  })
  const close = gfs.close
  vi.spyOn(gfs, 'close').mockImplementation(((fd: number, callback: (err: Error | null) => void) => {
    const temp = isTemp(fd)
    close(fd, err => { callback(err ?? (temp ? eio() : null)) })
  }) as typeof gfs.close)
}

describe('ensureFile: a temp file whose close fails', () => {
  it.each([
    ['a small Buffer (synchronous path)', () => crypto.randomBytes(1000)],
    ['a large Buffer (the pool)', () => crypto.randomBytes(3 * 1024 * 1024)],
    ['a stream', () => (async function * () { yield crypto.randomBytes(1024 * 1024); yield crypto.randomBytes(5000) })()],
  ])('%s: fails with ERR_CAS_FILE_ACCESS, the temp file removed, nothing stored', async (_, content) => {
    const dir = tempDir()
    const store = await openStore(dir)
    failTempCloses()
    await expect(store.ensureFile(content(), { mode: 0o644 })).rejects.toMatchObject({ code: 'ERR_CAS_FILE_ACCESS' })
    vi.restoreAllMocks()
    expect(listFiles(path.join(dir, 'v11', 'tmp')).filter(name => name.endsWith('.cas-tmp'))).toEqual([])
    expect(listFiles(path.join(dir, 'v11', 'files'))).toEqual([])
    await store.close()
  })
})

const PATHS = [
  ['a small Buffer (synchronous path)', () => crypto.randomBytes(1000)],
  ['a large Buffer (the pool)', () => crypto.randomBytes(3 * 1024 * 1024)],
  ['a stream', () => (async function * () { yield crypto.randomBytes(1024 * 1024); yield crypto.randomBytes(5000) })()],
] as const

describe('ensureFile: a temp file whose write fails (ENOSPC)', () => {
  it.each(PATHS)('%s: fails with ERR_CAS_FILE_ACCESS, the temp file removed, nothing stored', async (_, content) => {
    const dir = tempDir()
    const store = await openStore(dir)
    const writeSync = fs.writeSync
    vi.spyOn(fs, 'writeSync').mockImplementation(((fd: number, ...rest: unknown[]) => {
      if (isTemp(fd)) throw enospc()
      return (writeSync as (...a: unknown[]) => number)(fd, ...rest)
    }) as typeof fs.writeSync)
    const write = gfs.write
    vi.spyOn(gfs, 'write').mockImplementation(((fd: number, ...rest: unknown[]) => {
      const callback = rest[rest.length - 1] as (err: Error | null) => void
      if (isTemp(fd)) { setImmediate(() => callback(enospc())); return }
      return (write as (...a: unknown[]) => void)(fd, ...rest)
    }) as typeof gfs.write)
    await expect(store.ensureFile(content(), { mode: 0o644 })).rejects.toMatchObject({ code: 'ERR_CAS_FILE_ACCESS' })
    vi.restoreAllMocks()
    expect(listFiles(path.join(dir, 'v11', 'tmp')).filter(name => name.endsWith('.cas-tmp'))).toEqual([])
    expect(listFiles(path.join(dir, 'v11', 'files'))).toEqual([])
    await store.close()
  })
})

describe('ensureFile: a temp file that cannot be opened (EIO)', () => {
  it('a stream: fails with ERR_CAS_FILE_ACCESS, and the stream is destroyed (its descriptor let go)', async () => {
    const dir = tempDir()
    const store = await openStore(dir)
    const open = gfs.open
    vi.spyOn(gfs, 'open').mockImplementation(((file: fs.PathLike, ...rest: unknown[]) => {
      const callback = rest[rest.length - 1] as (err: Error | null) => void
      if (String(file).endsWith('.cas-tmp')) { setImmediate(() => callback(Object.assign(eio(), { syscall: 'open' }))); return }
      return (open as (...a: unknown[]) => void)(file, ...rest)
    }) as typeof gfs.open)
    const source = Readable.from([crypto.randomBytes(2 * 1024 * 1024)])
    await expect(store.ensureFile(source, { mode: 0o644 })).rejects.toMatchObject({ code: 'ERR_CAS_FILE_ACCESS' })
    vi.restoreAllMocks()
    expect(source.destroyed).toBe(true)
    expect(listFiles(path.join(dir, 'v11', 'tmp')).filter(name => name.endsWith('.cas-tmp'))).toEqual([])
    await store.close()
  })
})
