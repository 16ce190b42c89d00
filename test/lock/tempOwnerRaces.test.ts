// TempOwner.hold opens its record and takes the shared flock in one synchronous step, so in one process nothing can
// come between them; a cleaner in another process can (it removes a dead writer's record while holding it, and a
// new record may stand at the path by the time the flock is taken). This file wraps flock.js's calls with pause
// points that run a step just before them, to reproduce those cases, and the errors a lock file can meet.
import fs from 'node:fs'
import path from 'node:path'
import { afterEach, expect, it, vi } from 'vitest'
import { OWNER_SUFFIX } from '../../lib/layout/tempName.js'
import { OWNERS_DIR, TempOwner, tempWriterAlive } from '../../lib/lock/tempOwner.js'
import { tempDir } from '../helpers/tmp.js'

const steps = vi.hoisted(() => ({
  beforeFlock: [] as Array<() => void>,
  beforeOpen: [] as Array<() => void>,
}))

vi.mock('../../lib/lock/flock.js', async importOriginal => {
  const real = await importOriginal<typeof import('../../lib/lock/flock.js')>()
  return {
    ...real,
    flockSync: (fd: number, flags: Parameters<typeof real.flockSync>[1]): void => {
      steps.beforeFlock.shift()?.()
      real.flockSync(fd, flags)
    },
    openLockFile: (file: string): number => {
      steps.beforeOpen.shift()?.()
      return real.openLockFile(file)
    },
    backoff: async (): Promise<void> => {}, // no pacing needed here: each retry is scripted
  }
})

afterEach(() => {
  steps.beforeFlock.length = 0
  steps.beforeOpen.length = 0
  vi.restoreAllMocks()
})

const errno = (code: string): Error => Object.assign(new Error(`${code}: scripted`), { code })

/** The record's path, and whether a cleaner finds its writer alive (the question hold() exists to answer). */
function record (root: string, id: string): { file: string, alive: () => boolean | undefined } {
  return {
    file: path.join(root, OWNERS_DIR, id + OWNER_SUFFIX),
    alive: () => tempWriterAlive(root, id + OWNER_SUFFIX),
  }
}

it('a record removed by a cleaner between the open and the flock is not held: hold() starts over on a new one', async () => {
  const root = tempDir()
  const { file, alive } = record(root, 'a-1-2-3')
  const owner = new TempOwner(root, 'a-1-2-3')
  steps.beforeFlock.push(() => { fs.rmSync(file) }) // the open made it; a cleaner judged it dead and removed it
  await owner.hold()
  expect(fs.existsSync(file)).toBe(true)
  expect(alive()).toBe(true) // the lock is on the record at the path, where cleaners look
  owner.release()
})

it('a record replaced by another file between the open and the flock is not held either', async () => {
  const root = tempDir()
  const { file, alive } = record(root, 'a-1-2-4')
  const owner = new TempOwner(root, 'a-1-2-4')
  steps.beforeFlock.push(() => {
    fs.rmSync(file)
    fs.writeFileSync(file, '') // another store of the same id made a new one meanwhile
  })
  await owner.hold()
  expect(alive()).toBe(true)
  owner.release()
  expect(alive()).toBeUndefined() // released, and removed: no record left
})

it.each(['EAGAIN', 'EWOULDBLOCK'])('a flock that says %s (a cleaner judging the record) is tried again', async code => {
  const root = tempDir()
  const { alive } = record(root, 'a-1-2-5')
  const owner = new TempOwner(root, 'a-1-2-5')
  steps.beforeFlock.push(() => { throw errno(code) })
  await owner.hold()
  expect(alive()).toBe(true)
  owner.release()
})

it('any other flock error comes out of hold(), and nothing is held', async () => {
  const root = tempDir()
  const owner = new TempOwner(root, 'a-1-2-6')
  steps.beforeFlock.push(() => { throw errno('ENOLCK') })
  await expect(owner.hold()).rejects.toMatchObject({ code: 'ENOLCK' })
  expect(owner.held).toBe(false)
})

it('a record that cannot be opened (not ENOENT) fails hold() with ERR_CAS_FILE_ACCESS naming it', async () => {
  const root = tempDir()
  const { file } = record(root, 'a-1-2-7')
  const owner = new TempOwner(root, 'a-1-2-7')
  steps.beforeOpen.push(() => { throw errno('EACCES') })
  await expect(owner.hold()).rejects.toMatchObject({ code: 'ERR_CAS_FILE_ACCESS', path: file })
})

it('a folder made and still no record to open (ENOENT twice) fails hold() instead of trying forever', async () => {
  const root = tempDir()
  const { file } = record(root, 'a-1-2-8')
  const owner = new TempOwner(root, 'a-1-2-8')
  steps.beforeOpen.push(() => { throw errno('ENOENT') }, () => { throw errno('ENOENT') })
  await expect(owner.hold()).rejects.toMatchObject({ code: 'ERR_CAS_FILE_ACCESS', path: file })
  expect(fs.existsSync(path.dirname(file))).toBe(true) // it did make the folder once
})

it('an owners folder that cannot be made fails hold() with ERR_CAS_FILE_ACCESS naming the folder', async () => {
  const root = tempDir()
  const { file } = record(root, 'a-1-2-9')
  const owner = new TempOwner(root, 'a-1-2-9')
  steps.beforeOpen.push(() => { throw errno('ENOENT') })
  vi.spyOn(fs, 'mkdirSync').mockImplementation(() => { throw errno('EROFS') })
  await expect(owner.hold()).rejects.toMatchObject({ code: 'ERR_CAS_FILE_ACCESS', path: path.dirname(file) })
})
