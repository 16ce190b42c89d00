// ifKeyLockFree opens the lock file and tries its flock in one synchronous step, so in one process nothing can
// come between them; another process can (a holder letting go, a newcomer taking a new file). This file wraps
// tryFlock with a pause point that runs a step just before the try, to reproduce those cases deterministically.
import fs from 'node:fs'
import path from 'node:path'
import { expect, it, vi } from 'vitest'
import { flockSync, openLockFile, tryFlock, unlockFd } from '../../lib/lock/flock.js'
import { ifKeyLockFree, withKeyLock } from '../../lib/lock/keyLock.js'
import { tempDir } from '../helpers/tmp.js'

const beforeTry = vi.hoisted(() => ({ step: undefined as ((fd: number) => void) | undefined }))

vi.mock('../../lib/lock/flock.js', async importOriginal => {
  const real = await importOriginal<typeof import('../../lib/lock/flock.js')>()
  return {
    ...real,
    tryFlock: (fd: number): boolean => {
      const step = beforeTry.step
      beforeTry.step = undefined
      step?.(fd)
      return real.tryFlock(fd)
    },
  }
})

/** The descriptors of this process open on `file`, whether it is still at its path or removed. */
function descriptorsOn (file: string): number {
  const real = fs.realpathSync(path.dirname(file))
  const target = path.join(real, path.basename(file))
  return fs.readdirSync('/proc/self/fd').filter(fd => {
    try {
      const link = fs.readlinkSync(`/proc/self/fd/${fd}`)
      return link === target || link === `${target} (deleted)`
    } catch {
      return false // the descriptor readdir itself used, closed by now
    }
  }).length
}

it('a flock taken on the file its holder removed meanwhile is dropped, and the new holder\'s file is left alone', async () => {
  const lockFile = path.join(tempDir(), 'k.lock')
  const held = openLockFile(lockFile)
  flockSync(held, 'exnb')
  let newcomer: number | undefined
  beforeTry.step = () => {
    // Between ifKeyLockFree's open and its try, the holder lets go as every holder does (unlink, then unlock) and a
    // newcomer creates the new file and takes it. The try then gets the removed file's flock, which nobody holds.
    fs.unlinkSync(lockFile)
    unlockFd(held)
    newcomer = openLockFile(lockFile)
    flockSync(newcomer, 'exnb')
  }
  let ran = false
  try {
    expect(await ifKeyLockFree(lockFile, async () => { ran = true })).toBeUndefined()
    expect(ran).toBe(false)
    expect(fs.existsSync(lockFile)).toBe(true)
    expect(descriptorsOn(lockFile)).toBe(1)
  } finally {
    if (newcomer !== undefined) unlockFd(newcomer)
  }
})

it('a flock taken on the file its holder removed, with no file left at the path, is dropped: fn runs on a new file', async () => {
  const lockFile = path.join(tempDir(), 'k.lock')
  const held = openLockFile(lockFile)
  flockSync(held, 'exnb')
  beforeTry.step = () => {
    fs.unlinkSync(lockFile)
    unlockFd(held)
  }
  const newcomerGotIn = await ifKeyLockFree(lockFile, async () => {
    // A newcomer opens what is at the path now: it must find the lock held.
    const newcomer = openLockFile(lockFile)
    try {
      return tryFlock(newcomer)
    } finally {
      unlockFd(newcomer)
    }
  })
  expect(newcomerGotIn).toBe(false)
  expect(fs.existsSync(lockFile)).toBe(false)
})

it('a flock that fails (not "held") closes the descriptor ifKeyLockFree opened, and the error comes out', async () => {
  const lockFile = path.join(tempDir(), 'k.lock')
  beforeTry.step = () => {
    throw Object.assign(new Error('ENOLCK: no locks available'), { code: 'ENOLCK' })
  }
  await expect(ifKeyLockFree(lockFile, async () => 'ran')).rejects.toMatchObject({ code: 'ENOLCK' })
  expect(descriptorsOn(lockFile)).toBe(0)
})

/**
 * A lock file whose folder is moved away, and a file put in its place, between the open and the flock try: the
 * flock succeeds on the open descriptor, and the check that it is the file at the path then fails with ENOTDIR.
 * `restore` puts the folder back.
 */
function folderSwappedAtTry (): { lockFile: string, restore: () => void } {
  const dir = path.join(tempDir(), 'locks')
  fs.mkdirSync(dir)
  const moved = `${dir}.moved`
  beforeTry.step = () => {
    fs.renameSync(dir, moved)
    fs.writeFileSync(dir, 'not a folder')
  }
  return {
    lockFile: path.join(dir, 'k.lock'),
    restore: () => {
      fs.rmSync(dir)
      fs.renameSync(moved, dir)
    },
  }
}

it('a lock file that cannot be looked up after the flock (ENOTDIR) closes the descriptor: the lock is not kept', async () => {
  const { lockFile, restore } = folderSwappedAtTry()
  await expect(ifKeyLockFree(lockFile, async () => 'ran')).rejects.toMatchObject({ code: 'ENOTDIR' })
  restore()
  expect(descriptorsOn(lockFile)).toBe(0)
  // Nobody holds it now: a new taker gets it at once.
  const fd = openLockFile(lockFile)
  try {
    expect(tryFlock(fd)).toBe(true)
  } finally {
    unlockFd(fd)
  }
})

it('withKeyLock: the same failed look-up after the flock closes the descriptor, and the error comes out', async () => {
  const { lockFile, restore } = folderSwappedAtTry()
  await expect(withKeyLock(lockFile, 'k', async () => 'ran')).rejects.toMatchObject({ code: 'ENOTDIR' })
  restore()
  expect(descriptorsOn(lockFile)).toBe(0)
  expect(await ifKeyLockFree(lockFile, async () => 'free')).toBe('free')
})
