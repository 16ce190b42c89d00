// pnpm #4149 / #6338: EXDEV when the store is on another disk or a Docker volume. The store on /dev/shm (tmpfs),
// the project on disk: `auto` copies, an explicit `hardlink` fails with a coded error naming the method and the
// reason, and what works is learned once per store and device, not probed per file.
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { afterEach, beforeAll, expect, it, vi } from 'vitest'
import { ImportMethodError, openStore } from '../../lib/index.js'
import { expectWhole, packageEntries, storePackage, strayEntries } from '../helpers/importPkg.js'
import { tempDir } from '../helpers/tmp.js'

const shmDirs: string[] = []
afterEach(() => { for (const d of shmDirs.splice(0)) fs.rmSync(d, { recursive: true, force: true }) })

beforeAll(() => {
  // Not a skip: without a second file system this test proves nothing, so it says how to get one.
  if (!fs.existsSync('/dev/shm') || fs.statSync('/dev/shm').dev === fs.statSync(os.tmpdir()).dev) {
    throw new Error('This test needs /dev/shm (tmpfs) on another file system than the OS temp dir; mount a tmpfs on /dev/shm.')
  }
})

function shmStore (): string {
  const dir = fs.mkdtempSync('/dev/shm/cas-import-test-')
  shmDirs.push(dir)
  return path.join(dir, 'store')
}

it('store on tmpfs, target on disk: auto imports by copy, hardlink alone fails with ERR_CAS_IMPORT_METHOD', async () => {
  const storeDir = shmStore()
  const entries = packageEntries('xdev', 30)
  const { index } = await storePackage(storeDir, entries)
  const nm = path.join(tempDir(), 'node_modules')
  const store = await openStore(storeDir)

  const linked = path.join(nm, 'linked')
  const err = await store.importPackage(index, linked, { method: 'hardlink' }).then(() => undefined, (e: unknown) => e)
  expect(err).toBeInstanceOf(ImportMethodError)
  expect(err).toMatchObject({ code: 'ERR_CAS_IMPORT_METHOD', method: 'hardlink', reason: 'EXDEV' })
  expect((err as Error).message).toMatch(/different file systems/)
  expect(strayEntries(nm)).toEqual([])

  expect(await store.importPackage(index, path.join(nm, 'auto'))).toEqual({ method: 'copy', imported: true })
  expectWhole(path.join(nm, 'auto'), entries)
  // The explicit method keeps failing the same way, now without even trying.
  await expect(store.importPackage(index, path.join(nm, 'again'), { method: 'hardlink' }))
    .rejects.toMatchObject({ code: 'ERR_CAS_IMPORT_METHOD' })
  expect(strayEntries(nm)).toEqual(['auto'])
  await store.close()
})

it('the probe costs one try per method per store and device, not one per file', async () => {
  const storeDir = shmStore()
  const a = await storePackage(storeDir, packageEntries('a', 40), 'a@1.0.0')
  const b = await storePackage(storeDir, packageEntries('b', 40), 'b@1.0.0')
  const nm = path.join(tempDir(), 'node_modules')
  const store = await openStore(storeDir)
  const link = vi.spyOn(fs, 'linkSync')
  const copy = vi.spyOn(fs, 'copyFileSync')
  try {
    await store.importPackage(a.index, path.join(nm, 'a'))
    const isClone = (flags: number | undefined): boolean => ((flags ?? 0) & fs.constants.COPYFILE_FICLONE_FORCE) !== 0
    const clones = (): number => copy.mock.calls.filter(c => isClone(c[2])).length
    expect({ links: link.mock.calls.length, clones: clones() }).toEqual({ links: 1, clones: 1 })
    await store.importPackage(b.index, path.join(nm, 'b'))
    expect({ links: link.mock.calls.length, clones: clones() }).toEqual({ links: 1, clones: 1 })
    expect(copy.mock.calls.length).toBe(1 + 41 + 41) // one failed clone, then plain copies of both packages
  } finally {
    link.mockRestore()
    copy.mockRestore()
    await store.close()
  }
})
