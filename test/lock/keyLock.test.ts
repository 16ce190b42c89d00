// withKeyLock, ifKeyLockFree and removeFreeKeyLocks, one guard per test: the waiter whose flock lands on a removed
// file, the release that cannot remove its file, the lock folder removed by a user, the holder record a waiter
// is told about, descriptors never left open, and which files the sweep removes and counts.
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { expect, it } from 'vitest'
import { openLockFile, tryFlock, unlockFd } from '../../lib/lock/flock.js'
import {
  ifKeyLockFree, readHolder, removeFreeKeyLocks, withKeyLock, type WaitInfo, type WaitOptions,
} from '../../lib/lock/keyLock.js'
import { signal } from '../helpers/gate.js'
import { tempDir } from '../helpers/tmp.js'

/** A `withKeyLock` call whose fn stays inside until `leave()`; `entered` resolves once it is inside. */
interface Holder {
  entered: Promise<void>
  leave: () => void
  done: Promise<void>
}

type HoldOptions = WaitOptions & { pollMaxMs?: number }

/** Counts the fns inside the lock at once, so a test can say at most one ever was. */
function exclusion (): { most: () => number, hold: (lockFile: string, options?: HoldOptions) => Holder } {
  let inside = 0
  let most = 0
  return {
    most: () => most,
    hold: (lockFile, options = {}) => {
      const entered = signal()
      const left = signal()
      const done = withKeyLock(lockFile, 'k', async () => {
        most = Math.max(most, ++inside)
        entered.signal()
        await left.signalled
        inside--
      }, options)
      return { entered: entered.signalled, leave: left.signal, done }
    },
  }
}

/** The descriptors of this process open on `file` (from /proc/self/fd). */
function descriptorsOn (file: string): number {
  const real = fs.realpathSync(file)
  return fs.readdirSync('/proc/self/fd').filter(fd => {
    try {
      return fs.readlinkSync(`/proc/self/fd/${fd}`) === real
    } catch {
      return false // the descriptor readdir itself used, closed by now
    }
  }).length
}

it('a waiter whose flock lands on the file the holder removed starts over on the new file, never beside its holder', async () => {
  const lockFile = path.join(tempDir(), 'k.lock')
  const { most, hold } = exclusion()
  const first = hold(lockFile)
  await first.entered
  let thirdInside = false
  const queued = signal()
  const startedOver = signal()
  // The waiter opens the first holder's file and polls it. Its onWait is called on the first miss of each try; one
  // called while the third holder is inside comes from a new try on the third's file.
  const waiter = hold(lockFile, {
    pollMaxMs: 1,
    onWait: () => {
      queued.signal()
      if (thirdInside) startedOver.signal()
    },
  })
  await queued.signalled
  first.leave()
  await first.done
  // Still before the waiter's next poll (timers run only once these steps are done): a newcomer creates the new
  // file and takes it. The waiter's next poll gets the flock of the removed file, which nobody holds any more.
  const third = hold(lockFile)
  await third.entered
  thirdInside = true
  const seen = await Promise.race([
    startedOver.signalled.then(() => 'started over'),
    waiter.entered.then(() => 'entered beside the third'),
  ])
  expect(seen).toBe('started over')
  thirdInside = false
  third.leave()
  await third.done
  await waiter.entered
  waiter.leave()
  await waiter.done
  expect(most()).toBe(1)
  expect(fs.existsSync(lockFile)).toBe(false)
})

it('a waiter whose flock lands on the removed file, with no file left at the path, starts over: a newcomer waits for it', async () => {
  const lockFile = path.join(tempDir(), 'k.lock')
  const { most, hold } = exclusion()
  const first = hold(lockFile)
  await first.entered
  const queued = signal()
  const waiter = hold(lockFile, { pollMaxMs: 1, onWait: queued.signal })
  await queued.signalled
  first.leave()
  await first.done
  // The waiter's next poll takes the removed file's flock, finds no file at the path, creates one and holds that.
  await waiter.entered
  const newcomerWaits = signal()
  const newcomer = hold(lockFile, { onWait: newcomerWaits.signal })
  const seen = await Promise.race([
    newcomerWaits.signalled.then(() => 'waits'),
    newcomer.entered.then(() => 'entered beside the waiter'),
  ])
  expect(seen).toBe('waits')
  waiter.leave()
  await waiter.done
  await newcomer.entered
  newcomer.leave()
  await newcomer.done
  expect(most()).toBe(1)
  expect(fs.existsSync(lockFile)).toBe(false)
})

it('a waiter is told the holder from its record: pid, host and since when it took the lock', async () => {
  const lockFile = path.join(tempDir(), 'k.lock')
  const { hold } = exclusion()
  const holder = hold(lockFile)
  await holder.entered
  let told!: (info: WaitInfo) => void
  const info = new Promise<WaitInfo>(resolve => { told = resolve })
  const waiter = hold(lockFile, { onWait: i => told(i) })
  const first = await info
  // /proc/locks names the pid alone; only the record says since when, hence how long it has been held.
  expect(first.holder).toEqual({ pid: process.pid, hostname: os.hostname(), since: expect.any(Number) })
  expect(first.heldForMs).toBeGreaterThanOrEqual(0)
  holder.leave()
  await holder.done
  await waiter.entered
  waiter.leave()
  await waiter.done
})

it('readHolder returns a record with a numeric pid, and undefined for anything else', () => {
  const file = path.join(tempDir(), 'k.lock')
  const record = { pid: 4242, hostname: 'h', since: 7 }
  fs.writeFileSync(file, JSON.stringify(record))
  expect(readHolder(file)).toEqual(record)
  for (const bad of ['', '{"pid":', '{"hostname":"h"}', '{"pid":"4242","hostname":"h"}', 'null']) {
    fs.writeFileSync(file, bad)
    expect(readHolder(file), bad).toBeUndefined()
  }
  expect(readHolder(path.join(path.dirname(file), 'missing.lock'))).toBeUndefined()
})

it('a release that cannot remove its file still drops the lock, and fails with the error', async () => {
  const lockFile = path.join(tempDir(), 'k.lock')
  let other!: number
  const err = await withKeyLock(lockFile, 'k', async () => {
    // Another description of the held file, to see its lock dropped; then the path made a folder (unlink: EISDIR).
    other = openLockFile(lockFile)
    fs.rmSync(lockFile)
    fs.mkdirSync(lockFile)
  }).catch((e: unknown) => e) as NodeJS.ErrnoException
  try {
    expect(err.code).toBe('EISDIR')
    expect(tryFlock(other)).toBe(true)
  } finally {
    unlockFd(other)
  }
})

it('a lock folder removed with its parent is recreated; a lock path that cannot be opened fails with its error', async () => {
  const root = tempDir()
  const lockFile = path.join(root, 'locks', 'packages', 'k.lock')
  fs.mkdirSync(path.dirname(lockFile), { recursive: true })
  fs.rmSync(path.join(root, 'locks'), { recursive: true })
  expect(await withKeyLock(lockFile, 'k', async () => fs.existsSync(lockFile))).toBe(true)
  expect(fs.readdirSync(path.dirname(lockFile))).toEqual([])
  expect(await ifKeyLockFree(path.join(root, 'gone', 'deeper', 'k.lock'), async () => 'ran')).toBe('ran')

  fs.mkdirSync(lockFile)
  await expect(withKeyLock(lockFile, 'k', async () => 'ran')).rejects.toMatchObject({ code: 'EISDIR' })
})

it('ifKeyLockFree leaves no descriptor open when the lock is held, and does not run fn', async () => {
  const lockFile = path.join(tempDir(), 'k.lock')
  const { hold } = exclusion()
  const holder = hold(lockFile)
  await holder.entered
  expect(descriptorsOn(lockFile)).toBe(1)
  let ran = false
  for (let i = 0; i < 3; i++) {
    expect(await ifKeyLockFree(lockFile, async () => { ran = true })).toBeUndefined()
  }
  expect(ran).toBe(false)
  expect(descriptorsOn(lockFile)).toBe(1)
  holder.leave()
  await holder.done
})

it('removeFreeKeyLocks removes and counts the free *.lock files only: not a held one, other names, or a dangling link', async () => {
  const dir = tempDir()
  for (const name of ['a.lock', 'b.lock']) fs.writeFileSync(path.join(dir, name), '')
  fs.writeFileSync(path.join(dir, 'notes.txt'), '')
  // A listed name that is no file by the time it is looked at (removed meanwhile by its holder; here a dangling link).
  fs.symlinkSync(path.join(dir, 'nowhere'), path.join(dir, 'dangling.lock'))
  const { hold } = exclusion()
  const holder = hold(path.join(dir, 'held.lock'))
  await holder.entered
  expect(await removeFreeKeyLocks(dir)).toBe(2)
  expect(fs.readdirSync(dir).sort()).toEqual(['dangling.lock', 'held.lock', 'notes.txt'])
  holder.leave()
  await holder.done

  expect(await removeFreeKeyLocks(path.join(dir, 'missing'))).toBe(0)
  await expect(removeFreeKeyLocks(path.join(dir, 'notes.txt'))).rejects.toMatchObject({ code: 'ENOTDIR' })
})
