// A temp file whose close fails is not whole (NFS reports a deferred write error at close: EIO, EDQUOT): the
// writer removes it and fails with ERR_CAS_FILE_ACCESS, on each of its three paths (a small Buffer, written
// synchronously; a large Buffer, through the pool; a stream). The descriptor is released either way, as close(2)
// does on Linux.
import crypto from 'node:crypto'
import fs from 'node:fs'
import path from 'node:path'
import gfs from 'graceful-fs'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { openStore } from '../../lib/index.js'
import { listFiles, tempDir } from '../helpers/tmp.js'

afterEach(() => { vi.restoreAllMocks() })

const eio = (): NodeJS.ErrnoException => Object.assign(new Error('EIO: i/o error, close'), { code: 'EIO', errno: -5, syscall: 'close' })

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
