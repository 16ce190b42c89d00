// StripeLocks, the OS half of the path lock, in one process: two instances on one locks folder exclude each other
// exactly as two processes do (each opens its own descriptors, and flock belongs to the open file description).
import fs from 'node:fs'
import path from 'node:path'
import { describe, expect, it, vi } from 'vitest'
import { IDLE_CLOSE_MS, StripeLocks } from '../../lib/lock/stripeLocks.js'
import { signal } from '../helpers/gate.js'
import { tempDir } from '../helpers/tmp.js'

const openFds = (): number => fs.readdirSync('/proc/self/fd').length

describe('StripeLocks', () => {
  it('excludes another instance; joins this instance\'s own hold; frees the stripe when the last holder leaves', async () => {
    const dir = tempDir()
    const ours = new StripeLocks(dir)
    const theirs = new StripeLocks(dir)
    expect(ours.tryAcquireSync(7)).toBe(true)
    expect(ours.tryAcquireSync(7)).toBe(true) // a second task of this process joins (the mutex keeps paths apart)
    expect(theirs.tryAcquireSync(7)).toBe(false)
    expect(theirs.tryAcquireSync(8)).toBe(true) // other stripes are free
    theirs.release(8)
    ours.release(7)
    expect(theirs.tryAcquireSync(7)).toBe(false) // one holder left
    ours.release(7)
    expect(theirs.tryAcquireSync(7)).toBe(true)
    theirs.release(7)
    ours.close()
    theirs.close()
  })

  it('a failed try keeps no descriptor open; a released stripe keeps its one (for the next lock) until close', async () => {
    const dir = tempDir()
    const ours = new StripeLocks(dir)
    const theirs = new StripeLocks(dir)
    const before = openFds()
    expect(ours.tryAcquireSync(1)).toBe(true)
    expect(openFds()).toBe(before + 1)
    for (let i = 0; i < 10; i++) expect(theirs.tryAcquireSync(1)).toBe(false)
    expect(openFds()).toBe(before + 1)
    ours.release(1)
    expect(openFds()).toBe(before + 1) // kept, unlocked: see stripeLocksKeptDescriptors.test.ts
    expect(theirs.tryAcquireSync(1)).toBe(true)
    theirs.release(1)
    ours.close()
    theirs.close()
    expect(openFds()).toBe(before)
  })

  it('a waiter polls until the holder lets go; tasks waiting on one stripe share one poller', async () => {
    const dir = tempDir()
    const holder = new StripeLocks(dir)
    const waiter = new StripeLocks(dir)
    expect(holder.tryAcquireSync(3)).toBe(true)
    let contended = 0
    const polling = signal()
    const onContended = (): void => { contended++; polling.signal() }
    const order: string[] = []
    const first = waiter.acquire(3, onContended).then(() => order.push('first'))
    const second = waiter.acquire(3, onContended).then(() => order.push('second'))
    expect(waiter.tryAcquireSync(3)).toBe(false) // a poll is in progress: a sync try must not jump it
    await polling.signalled // the poller met the other instance's lock
    for (let turn = 0; turn < 20; turn++) await new Promise(resolve => setImmediate(resolve)) // it polls again
    expect(order).toEqual([])
    holder.release(3)
    await Promise.all([first, second])
    expect(order).toEqual(['first', 'second'])
    expect(contended).toBe(1) // only the poller met the other instance's lock
    expect(holder.tryAcquireSync(3)).toBe(false) // both waiters hold it now
    waiter.release(3)
    expect(holder.tryAcquireSync(3)).toBe(false)
    waiter.release(3)
    expect(holder.tryAcquireSync(3)).toBe(true)
    holder.release(3)
    holder.close()
    waiter.close()
  })

  it('recreates the locks folder when a user removed it (lock files carry no data)', async () => {
    const dir = path.join(tempDir(), 'store', 'locks')
    fs.mkdirSync(dir, { recursive: true })
    const locks = new StripeLocks(dir)
    fs.rmSync(dir, { recursive: true })
    expect(locks.tryAcquireSync(0x2a)).toBe(true)
    expect(fs.existsSync(path.join(dir, '2a'))).toBe(true)
    locks.release(0x2a)
    fs.rmSync(path.dirname(dir), { recursive: true }) // its parent too
    await locks.acquire(0xff)
    expect(fs.existsSync(path.join(dir, 'ff'))).toBe(true)
    locks.release(0xff)
    locks.close()
  })

  it('a locks folder that cannot be recreated fails with ERR_CAS_LOCK_FILE naming the lock file', async () => {
    const dir = path.join(tempDir(), 'locks')
    fs.mkdirSync(dir)
    const locks = new StripeLocks(dir)
    // Removed, and a dangling link left in its place: opening a lock file in it finds nothing (ENOENT), and the
    // folder cannot be made again (EEXIST), whoever the user is (root included).
    fs.rmSync(dir, { recursive: true })
    fs.symlinkSync(path.join(dir, '..', 'gone', 'nowhere'), dir)
    const file = path.join(dir, '2a')
    let thrown: unknown
    try {
      locks.tryAcquireSync(0x2a)
    } catch (err) {
      thrown = err
    }
    expect(thrown).toMatchObject({ code: 'ERR_CAS_LOCK_FILE', path: file })
    await expect(locks.acquire(0x2a)).rejects.toMatchObject({ code: 'ERR_CAS_LOCK_FILE', path: file })
    fs.rmSync(dir) // the link: now the folder can be made again, and nothing was left half-held
    expect(locks.tryAcquireSync(0x2a)).toBe(true)
    locks.release(0x2a)
    locks.close()
  })

  it('names its lock files by the stripe in two hex digits', async () => {
    const dir = tempDir()
    const locks = new StripeLocks(dir)
    await locks.acquire(0)
    locks.release(0)
    expect(locks.tryAcquireSync(0xab)).toBe(true)
    locks.release(0xab)
    expect(fs.readdirSync(dir).sort()).toEqual(['00', 'ab'])
    locks.close()
  })

  it('a release without a hold is an internal error, not a silent miscount', () => {
    const locks = new StripeLocks(tempDir())
    expect(() => locks.release(5)).toThrow(/stripe 5 released more than taken/)
    expect(locks.tryAcquireSync(5)).toBe(true)
    locks.release(5)
    expect(() => locks.release(5)).toThrow(/released more than taken/)
    locks.close()
  })

  it('after close: taking a lock fails ERR_CAS_CLOSED, a waiter gives up, a held stripe keeps its lock until released', async () => {
    const dir = tempDir()
    const locks = new StripeLocks(dir)
    const other = new StripeLocks(dir)
    expect(locks.tryAcquireSync(9)).toBe(true)
    expect(other.tryAcquireSync(4)).toBe(true)
    const before = openFds()
    const waiting = locks.acquire(4)
    expect(openFds()).toBe(before + 1) // the poller's descriptor
    locks.close()
    await expect(waiting).rejects.toMatchObject({ code: 'ERR_CAS_CLOSED' })
    expect(openFds()).toBe(before) // closed with the store, not leaked
    expect(() => locks.tryAcquireSync(1)).toThrow(expect.objectContaining({ code: 'ERR_CAS_CLOSED' }))
    await expect(locks.acquire(1)).rejects.toMatchObject({ code: 'ERR_CAS_CLOSED' })
    expect(other.tryAcquireSync(9)).toBe(false) // still held: closing never drops a lock mid-critical-section
    locks.release(9)
    expect(other.tryAcquireSync(9)).toBe(true)
    other.release(9)
    other.release(4)
    other.close()
  })

  it('a locks path that is not a folder is an error, not retried', async () => {
    const file = path.join(tempDir(), 'locks')
    fs.writeFileSync(file, 'not a folder')
    const locks = new StripeLocks(file)
    expect(() => locks.tryAcquireSync(1)).toThrow(expect.objectContaining({ code: 'ERR_CAS_LOCK_FILE', message: expect.stringContaining('(ENOTDIR)') }))
    await expect(locks.acquire(1)).rejects.toMatchObject({ code: 'ERR_CAS_LOCK_FILE', message: expect.stringContaining('(ENOTDIR)') })
    locks.close()
  })

  it('out of descriptors (EMFILE): a sync try says no, a waiter waits until one is free', async () => {
    const dir = tempDir()
    const locks = new StripeLocks(dir)
    const emfile = Object.assign(new Error('EMFILE: too many open files'), { code: 'EMFILE' })
    const openSync = fs.openSync
    let failing = 3
    const spy = vi.spyOn(fs, 'openSync').mockImplementation((...args: Parameters<typeof openSync>) => {
      if (String(args[0]).startsWith(dir) && failing > 0) {
        failing--
        throw emfile
      }
      return openSync(...args)
    })
    expect(locks.tryAcquireSync(2)).toBe(false)
    await locks.acquire(2) // two more failed opens, then a free descriptor
    expect(failing).toBe(0)
    spy.mockRestore()
    expect(new StripeLocks(dir).tryAcquireSync(2)).toBe(false) // really held
    locks.release(2)
    locks.close()
  })
})

describe('StripeLocks: holders, give-ups and descriptors', () => {
  it('one task leaving a stripe two tasks of this process hold keeps the OS lock for the other', async () => {
    const dir = tempDir()
    const locks = new StripeLocks(dir)
    const other = new StripeLocks(dir)
    expect(locks.tryAcquireSync(6)).toBe(true)
    await locks.acquire(6)
    locks.release(6)
    expect(other.tryAcquireSync(6)).toBe(false)
    locks.release(6)
    expect(other.tryAcquireSync(6)).toBe(true)
    other.release(6)
    locks.close()
    other.close()
  })

  it('a sync try while a task of this process polls the stripe says no, and leaves the poller its descriptor', async () => {
    const dir = tempDir()
    const locks = new StripeLocks(dir)
    const other = new StripeLocks(dir)
    expect(other.tryAcquireSync(7)).toBe(true)
    const polling = locks.acquire(7)
    expect(locks.tryAcquireSync(7)).toBe(false)
    other.release(7)
    await polling
    expect(new StripeLocks(dir).tryAcquireSync(7)).toBe(false) // the poller really holds it
    locks.release(7)
    // Freed between two polls: the sync try still leaves it to the poller (two takers would count one holder).
    expect(other.tryAcquireSync(7)).toBe(true)
    const again = locks.acquire(7)
    other.release(7)
    expect(locks.tryAcquireSync(7)).toBe(false)
    await again
    locks.release(7)
    expect(other.tryAcquireSync(7)).toBe(true)
    other.release(7)
    locks.close()
    other.close()
  })

  it('a wait that times out keeps its descriptor as an idle one (closed by closeIdle), not lost', async () => {
    const dir = tempDir()
    const other = new StripeLocks(dir)
    expect(other.tryAcquireSync(8)).toBe(true)
    const locks = new StripeLocks(dir, { timeoutMs: 30 })
    await expect(locks.acquire(8)).rejects.toMatchObject({ code: 'ERR_CAS_LOCK_TIMEOUT' })
    expect(locks.openDescriptors).toBe(1)
    expect(locks.closeIdle()).toBe(1)
    other.release(8)
    locks.close()
    other.close()
  })

  it('after close: a stripe this instance holds is not joined, and its release closes the descriptor', async () => {
    const locks = new StripeLocks(tempDir())
    const before = openFds()
    await locks.acquire(9)
    locks.close()
    await expect(locks.acquire(9)).rejects.toMatchObject({ code: 'ERR_CAS_CLOSED' })
    locks.release(9)
    expect(openFds()).toBe(before)
    expect(locks.openDescriptors).toBe(0)
  })

  it('locking one stripe again and again reuses one descriptor', async () => {
    const locks = new StripeLocks(tempDir(), {}, { idleCloseMs: 60_000 })
    await locks.acquire(10)
    locks.release(10)
    const after = openFds()
    for (let i = 0; i < 5; i++) {
      if (i % 2 === 0) await locks.acquire(10)
      else expect(locks.tryAcquireSync(10)).toBe(true)
      locks.release(10)
    }
    expect(openFds()).toBe(after)
    locks.close()
  })

  it('by default a kept descriptor is closed IDLE_CLOSE_MS after its last use', async () => {
    vi.useFakeTimers()
    try {
      const locks = new StripeLocks(tempDir())
      await locks.acquire(11)
      locks.release(11)
      await vi.advanceTimersByTimeAsync(IDLE_CLOSE_MS - 1)
      expect(locks.openDescriptors).toBe(1)
      await vi.advanceTimersByTimeAsync(1)
      expect(locks.openDescriptors).toBe(0)
      locks.close()
    } finally {
      vi.useRealTimers()
    }
  })
})
