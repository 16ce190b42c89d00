// A stream is written in batches (STREAM_BATCH_BYTES), one write in flight while the next batch fills. These cases
// pin what that pipelining must not change: what is hashed is what is written (even when a source reuses its
// buffer), chunks that straddle batches, and a failure while a write is still in flight (its descriptor is not
// closed under it).
import crypto from 'node:crypto'
import fs from 'node:fs'
import path from 'node:path'
import gfs from 'graceful-fs'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { openStore } from '../../lib/index.js'
import { STREAM_BATCH_BYTES } from '../../lib/write/writeTemp.js'
import { gate, type Gate } from '../helpers/gate.js'
import { tempDir } from '../helpers/tmp.js'

const BATCH = STREAM_BATCH_BYTES

afterEach(() => { vi.restoreAllMocks() })

function sha512 (data: Buffer): string {
  return crypto.createHash('sha512').update(data).digest('hex')
}

/**
 * Spies on the writer's writes and closes: write number `held` waits for the returned gate; the others go through.
 * Tells how many writes have settled, and whether a descriptor was closed while a write was still pending.
 */
function watchWrites (held: number): { hold: Gate, settled: () => number, closedWhilePending: () => boolean } {
  const hold = gate()
  const realWrite = gfs.write
  let writes = 0
  let pending = 0
  let settled = 0
  let closedWhilePending = false
  vi.spyOn(gfs, 'write').mockImplementation(((...args: unknown[]) => {
    const callback = args[args.length - 1] as (err: Error | null, written?: number) => void
    const done = (err: Error | null, written?: number): void => { pending--; settled++; callback(err, written) }
    pending++
    const run = (): void => (realWrite as (...a: unknown[]) => void)(...args.slice(0, -1), done)
    if (++writes === held) hold.wait().then(run, () => {})
    else run()
  }) as typeof gfs.write)
  const realClose = gfs.close
  vi.spyOn(gfs, 'close').mockImplementation(((fd: number, callback: (err: Error | null) => void) => {
    if (pending > 0) closedWhilePending = true
    return realClose(fd, callback)
  }) as typeof gfs.close)
  return { hold, settled: () => settled, closedWhilePending: () => closedWhilePending }
}

describe('ensureFile from a stream, written in batches', () => {
  it('a source that refills one buffer for every chunk: the file and its name are the bytes it yielded', async () => {
    const store = await openStore(tempDir())
    const shared = Buffer.alloc(300 * 1024)
    const yielded: Buffer[] = []
    async function * reusing (): AsyncGenerator<Buffer> {
      for (let i = 0; i < 12; i++) { // 3.5 MiB: several batches, and chunks that straddle them
        shared.fill(`chunk ${i};`)
        yielded.push(Buffer.from(shared))
        yield shared // refilled as soon as the next chunk is asked for
      }
    }
    const added = await store.ensureFile(reusing(), { mode: 0o644 })
    const expected = Buffer.concat(yielded)
    expect(added.size).toBe(expected.length)
    expect(added.digest).toBe(sha512(expected))
    expect(sha512(fs.readFileSync(added.filePath))).toBe(added.digest)
    await store.close()
  })

  it.each([
    ['exactly one batch', [BATCH]],
    ['one byte past a batch', [BATCH, 1]],
    ['one chunk of three batches and a bit', [3 * BATCH + 7]],
    ['small chunks ending a byte short of a batch', [...Array(16).fill(BATCH / 16 - 1), 15]],
  ])('%s: stored whole under its own hash', async (_, sizes) => {
    const store = await openStore(tempDir())
    const chunks = (sizes as number[]).map(size => crypto.randomBytes(size))
    const added = await store.ensureFile((async function * () { yield * chunks })(), { mode: 0o644 })
    const expected = Buffer.concat(chunks)
    expect(added.digest).toBe(sha512(expected))
    expect(fs.readFileSync(added.filePath).equals(expected)).toBe(true)
    await store.close()
  })

  it('a source failing while a batch is being written: the descriptor is closed only after that write, then the temp file goes', async () => {
    const dir = tempDir()
    const store = await openStore(dir)
    const watch = watchWrites(1) // the first batch's write is held until the test lets it go
    const boom = new Error('source broke')
    async function * failing (): AsyncGenerator<Buffer> {
      yield crypto.randomBytes(BATCH) // the first batch: its write is held
      yield crypto.randomBytes(1024)
      throw boom
    }
    const writing = store.ensureFile(failing(), { mode: 0o644 })
    writing.catch(() => {})
    await watch.hold.reached
    // Give the failure every chance to run ahead of the held write.
    for (let i = 0; i < 20; i++) await new Promise(resolve => setImmediate(resolve))
    watch.hold.open()
    await expect(writing).rejects.toBe(boom)
    expect(watch.closedWhilePending()).toBe(false)
    expect(watch.settled()).toBeGreaterThan(0)
    expect(fs.readdirSync(path.join(dir, 'v11', 'tmp')).filter(name => !name.startsWith('.'))).toEqual([])
    await store.close()
  })

  it('the batch being written is not refilled while its write is held', async () => {
    const store = await openStore(tempDir())
    const watch = watchWrites(1)
    const chunks = Array.from({ length: 5 }, () => crypto.randomBytes(BATCH / 2))
    let pulledAll!: () => void
    const allPulled = new Promise<void>(resolve => { pulledAll = resolve })
    async function * source (): AsyncGenerator<Buffer> {
      yield * chunks.slice(0, 3)
      pulledAll() // asked for a fourth: the third went into the second batch while the first one's write waited
      yield * chunks.slice(3)
    }
    const writing = store.ensureFile(source(), { mode: 0o644 })
    await allPulled
    watch.hold.open()
    const added = await writing
    const expected = Buffer.concat(chunks)
    expect(added.digest).toBe(sha512(expected))
    expect(fs.readFileSync(added.filePath).equals(expected)).toBe(true)
    await store.close()
  })

  it('the last batch is written in full before the temp file is closed and renamed', async () => {
    const store = await openStore(tempDir())
    const watch = watchWrites(2) // the last one
    const chunks = [crypto.randomBytes(BATCH), crypto.randomBytes(1000)]
    const writing = store.ensureFile((async function * () { yield * chunks })(), { mode: 0o644 })
    await watch.hold.reached
    for (let i = 0; i < 20; i++) await new Promise(resolve => setImmediate(resolve))
    watch.hold.open()
    const added = await writing
    expect(watch.closedWhilePending()).toBe(false)
    expect(fs.readFileSync(added.filePath).equals(Buffer.concat(chunks))).toBe(true)
    await store.close()
  })

  it('a failed batch write ends the add with ERR_CAS_FILE_ACCESS and leaves no temp file', async () => {
    const dir = tempDir()
    const store = await openStore(dir)
    const realWrite = gfs.write
    let writes = 0
    let failed!: () => void
    const failureDelivered = new Promise<void>(resolve => { failed = resolve })
    vi.spyOn(gfs, 'write').mockImplementation(((...args: unknown[]) => {
      const callback = args[args.length - 1] as (err: Error | null) => void
      if (++writes === 2) {
        setImmediate(() => {
          callback(Object.assign(new Error('ENOSPC: no space left on device'), { code: 'ENOSPC' }))
          failed()
        })
        return
      }
      return (realWrite as (...a: unknown[]) => void)(...args)
    }) as typeof gfs.write)
    const chunks = Array.from({ length: 4 }, () => crypto.randomBytes(BATCH))
    async function * source (): AsyncGenerator<Buffer> {
      yield chunks[0]!
      yield chunks[1]!
      // A slow source: the second write fails while nobody awaits it yet. That failure must still be the add's
      // own error, not an unhandled rejection of the process.
      await failureDelivered
      await new Promise(resolve => setImmediate(resolve))
      yield chunks[2]!
      yield chunks[3]!
    }
    await expect(store.ensureFile(source(), { mode: 0o644 })).rejects.toMatchObject({ code: 'ERR_CAS_FILE_ACCESS' })
    expect(fs.readdirSync(path.join(dir, 'v11', 'tmp')).filter(name => !name.startsWith('.'))).toEqual([])
    await store.close()
  })
})
