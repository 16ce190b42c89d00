import fs from 'node:fs'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { openStore } from '../../lib/index.js'
import { MutexMap } from '../../lib/lock/mutexMap.js'
import { PathLock } from '../../lib/lock/pathLock.js'
import { STRIPE_COUNT } from '../../lib/lock/stripeLocks.js'
import { runFixture } from '../helpers/child.js'
import { contentOf, sha512Hex } from '../helpers/content.js'
import { gate } from '../helpers/gate.js'
import { tempDir } from '../helpers/tmp.js'

describe('MutexMap', () => {
  it('serialises holders of one key and drops the entry once nobody holds or waits', async () => {
    const map = new MutexMap()
    const order: string[] = []
    const first = await map.acquire('a')
    const second = map.acquire('a').then(release => { order.push('second'); return release })
    const other = await map.acquire('b') // other keys do not wait
    order.push('other')
    other()
    expect(map.isLocked('a')).toBe(true)
    order.push('first releases')
    first()
    const releaseSecond = await second
    expect(map.isLocked('a')).toBe(true) // handed to second, not freed
    releaseSecond()
    expect(order).toEqual(['other', 'first releases', 'second'])
    expect(map.size).toBe(0)
  })

  it('does not grow with the number of keys used', async () => {
    const map = new MutexMap()
    await Promise.all(Array.from({ length: 5000 }, async (_, i) => (await map.acquire(`k${i % 700}`))()))
    expect(map.size).toBe(0)
  })
})

describe('MutexMap: a release function called twice', () => {
  it('a holder that releases twice does not free the key under the waiter it handed it to', async () => {
    const map = new MutexMap()
    const first = await map.acquire('a')
    const second = map.acquire('a') // queued behind first: one entry, two users
    first()
    const releaseSecond = await second
    first() // counted out again, the entry would be dropped while second holds it
    expect(map.isLocked('a')).toBe(true)
    const order: string[] = []
    const third = map.acquire('a').then(release => { order.push('third in'); release() })
    await new Promise(resolve => setImmediate(resolve))
    expect(order).toEqual([]) // still queued behind second
    releaseSecond()
    await third
    expect(order).toEqual(['third in'])
    expect(map.size).toBe(0)
  })

  it('a synchronous taker that releases twice does not release the mutex its waiter now holds', async () => {
    const map = new MutexMap()
    const sync = map.tryAcquireSync('a')!
    const waiter = map.acquire('a')
    sync()
    const releaseWaiter = await waiter
    sync()
    expect(map.isLocked('a')).toBe(true)
    expect(map.tryAcquireSync('a')).toBeUndefined()
    const order: string[] = []
    const third = map.acquire('a').then(release => { order.push('third in'); release() })
    await new Promise(resolve => setImmediate(resolve))
    expect(order).toEqual([])
    releaseWaiter()
    await third
    expect(map.size).toBe(0)
  })

  it('a release after the key was freed and taken anew leaves the new holder alone', async () => {
    const map = new MutexMap()
    const first = await map.acquire('a')
    first()
    const second = await map.acquire('a')
    first()
    expect(map.isLocked('a')).toBe(true)
    second()
    expect(map.size).toBe(0)
  })
})

describe('PathLock', () => {
  it('releases on every way out, exceptions included', async () => {
    const lock = new PathLock(tempDir())
    await expect(lock.withLock('p', 3, () => { throw new Error('boom') })).rejects.toThrow('boom')
    await expect(lock.withLock('p', 3, async () => { throw new Error('async boom') })).rejects.toThrow('async boom')
    expect(await lock.withLock('p', 3, () => 'acquired again')).toBe('acquired again')
    expect(lock.activeKeys).toBe(0)
    lock.close()
  })

  it('a lock taken on the synchronous fast path is a full lock: held across an await, others queue behind it', async () => {
    const queued: string[] = []
    const lock = new PathLock(tempDir(), { hooks: { 'lock:queued': ({ path }) => { queued.push(path) } } })
    const release = lock.tryAcquireSync('p', 3)
    expect(release).toBeDefined()
    expect(lock.tryAcquireSync('p', 3)).toBeUndefined() // not free: the caller must wait with acquire()
    const order: string[] = []
    const other = lock.withLock('p', 3, () => { order.push('other task in') })
    await new Promise(resolve => setImmediate(resolve)) // the fast-path holder awaits, e.g. parked at a pause point
    expect(queued).toEqual(['p'])
    expect(order).toEqual([])
    order.push('holder releases')
    release!()
    await other
    expect(order).toEqual(['holder releases', 'other task in'])
    expect(lock.activeKeys).toBe(0)
    const again = lock.tryAcquireSync('p', 3)
    expect(again).toBeDefined()
    again!()
    lock.close()
  })

  it('keeps a fixed set of lock files however many paths are locked', async () => {
    const dir = tempDir()
    const store = await openStore(dir)
    await Promise.all(Array.from({ length: 2000 }, async (_, i) => await store.ensureFile(Buffer.from(`file ${i}`), { mode: 0o644 })))
    const lockFiles = fs.readdirSync(path.join(store.root, 'locks'))
    expect(lockFiles.length).toBeLessThanOrEqual(STRIPE_COUNT)
    expect(lockFiles.length).toBeGreaterThan(200) // 2000 random digests touch nearly every stripe
    await store.close()
  })

  it('excludes another process, and a killed holder leaves no lock behind', async () => {
    const dir = tempDir()
    const store = await openStore(dir)
    const holder = runFixture('holdStripes.ts', [dir])
    await holder.line(l => l === 'LOCKED')
    const parked = gate()
    const store2 = await openStore(dir, { _hooks: { 'lock:contended': parked.wait } })
    const writing = store2.ensureFile(Buffer.from('needs a stripe'), { mode: 0o644 })
    await parked.reached // blocked by the other process
    parked.open()
    holder.proc.kill('SIGKILL')
    await holder.exited
    const written = await writing // the kernel dropped the dead process's locks
    expect(fs.readFileSync(written.filePath, 'utf8')).toBe('needs a stripe')
    await store.close()
    await store2.close()
  })

  it('50 tasks waiting on OS locks do not occupy libuv\'s thread pool: other file I/O goes on', async () => {
    const dir = tempDir()
    const store = await openStore(dir)
    // 50 corrupt files in 50 different stripes, so each verification waits on its own OS lock.
    const files: Record<string, { digest: string, mode: number, size: number, checkedAt: number }> = {}
    const seenStripes = new Set<string>()
    for (let i = 0; Object.keys(files).length < 50; i++) {
      const data = contentOf('pool', i, 100)
      const digest = sha512Hex(data)
      if (seenStripes.has(digest.slice(0, 2))) continue
      seenStripes.add(digest.slice(0, 2))
      const file = store.filePathFor(digest, 0o644)
      fs.mkdirSync(path.dirname(file), { recursive: true })
      fs.writeFileSync(file, Buffer.alloc(100))
      files[`f${i}`] = { digest, mode: 0o644, size: 100, checkedAt: 0 }
    }
    const holder = runFixture('holdStripes.ts', [dir])
    await holder.line(l => l === 'LOCKED')
    const waiting = Object.entries(files).map(async ([name, info]) =>
      await store.checkPkgFilesIntegrity({ algo: 'sha512', files: { [name]: info } }))
    // With the default 4 libuv threads, 4 blocking flock calls would stall every fs call below until the holder
    // lets go — and it only lets go after them, so this test would hang.
    const probe = path.join(dir, 'probe')
    for (let i = 0; i < 20; i++) {
      await fs.promises.writeFile(probe, String(i))
      expect(await fs.promises.readFile(probe, 'utf8')).toBe(String(i))
    }
    holder.send('release')
    await holder.line(l => l === 'RELEASED')
    const results = await Promise.all(waiting)
    expect(results.every(r => r.corrupt.length === 1 && r.removed.length === 1)).toBe(true)
    await store.close()
  })
})

describe('PathLock: switched off, queued, closed', () => {
  it('switched off (a read-only store), it touches no lock file: even an unusable locks folder is fine', async () => {
    const blocker = path.join(tempDir(), 'a-file')
    fs.writeFileSync(blocker, '')
    const lock = new PathLock(path.join(blocker, 'locks'), { enabled: false })
    ;(await lock.acquire('/x', 1))()
    lock.tryAcquireSync('/x', 1)!()
    lock.close()
  })

  it('reaches lock:queued only when another task of this process holds the path', async () => {
    const queued: string[] = []
    const lock = new PathLock(path.join(tempDir(), 'locks'), { hooks: { 'lock:queued': ({ path: key }) => { queued.push(key) } } })
    const first = await lock.acquire('/a', 1)
    expect(queued).toEqual([])
    const second = lock.acquire('/a', 1)
    first()
    ;(await second)()
    expect(queued).toEqual(['/a'])
    lock.close()
  })

  it('close() gives back the stripe descriptors it kept open', async () => {
    const open = (): number => fs.readdirSync('/proc/self/fd').length
    const before = open()
    const lock = new PathLock(path.join(tempDir(), 'locks'))
    for (let stripe = 0; stripe < 8; stripe++) (await lock.acquire(`/p${stripe}`, stripe))()
    expect(open()).toBeGreaterThan(before)
    lock.close()
    expect(open()).toBe(before)
  })
})

describe('PathLock.closeIdle', () => {
  it('closes the descriptors kept after locks were released, and only those', async () => {
    const locks = path.join(tempDir(), 'locks')
    fs.mkdirSync(locks)
    const lock = new PathLock(locks)
    const lockFds = (): number => fs.readdirSync('/proc/self/fd').filter(fd => {
      try { return fs.readlinkSync(`/proc/self/fd/${fd}`).startsWith(locks) } catch { return false }
    }).length
    for (const stripe of [1, 2, 3]) (await lock.acquire(`/x/${stripe}`, stripe))()
    const held = await lock.acquire('/x/4', 4)
    expect(lockFds()).toBe(4) // three kept idle, one held
    expect(lock.closeIdle()).toBe(3)
    expect(lockFds()).toBe(1) // the held one stays: its OS lock must not be dropped under its holder
    expect(lock.closeIdle()).toBe(0)
    held()
    lock.close()
  })
})
