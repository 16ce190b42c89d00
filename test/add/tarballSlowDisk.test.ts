// A disk slower than the unpacking: a streamed tarball whose entries are just over 1 MiB (so each is streamed into
// its file, in 1 MiB batches). Such an entry is read to its end before its writes land, so without a bound the
// parser moves on to the next one and the next, each holding its batches and a descriptor. The feeder counts an
// entry whose body is read as buffered (32 MiB at most, as for small entries) and waits once past that.
import crypto from 'node:crypto'
import gfs from 'graceful-fs'
import { afterEach, expect, it, vi } from 'vitest'
import { openStore } from '../../lib/index.js'
import { makeTarball } from '../helpers/tarball.js'
import { tempDir } from '../helpers/tmp.js'

const MiB = 1024 * 1024
const ENTRIES = 48 // 48 MiB of held writes without the bound

afterEach(() => { vi.restoreAllMocks() })

it('writes held (a slow disk): entries streamed into files wait for the feeder\'s 32 MiB bound, not one batch per entry', async () => {
  const store = await openStore(tempDir())
  const entries = Array.from({ length: ENTRIES }, (_, i) => ({ path: `package/f${i}.bin`, body: crypto.randomBytes(MiB + 1) }))
  const tar = makeTarball(entries, { gzip: false })

  // Every write waits until the test lets writes through (a disk far slower than unpacking).
  const realWrite = gfs.write
  const held: Array<() => void> = []
  let holding = true
  let pendingBytes = 0
  let maxPendingBytes = 0
  let progress = 0
  const input = { exhausted: false }
  vi.spyOn(gfs, 'write').mockImplementation(((...args: unknown[]) => {
    progress++
    const callback = args[args.length - 1] as (err: Error | null, written?: number) => void
    const length = args[3] as number
    const run = (): void => {
      (realWrite as (...a: unknown[]) => void)(...args.slice(0, -1), (err: Error | null, written?: number) => {
        pendingBytes -= length
        callback(err, written)
      })
    }
    pendingBytes += length
    maxPendingBytes = Math.max(maxPendingBytes, pendingBytes)
    if (holding) held.push(run)
    else run()
  }) as typeof gfs.write)

  async function * source (): AsyncGenerator<Buffer> {
    for (let offset = 0; offset < tar.length; offset += 64 * 1024) {
      progress++
      yield tar.subarray(offset, offset + 64 * 1024)
    }
    input.exhausted = true
  }
  const adding = store.addFilesFromTarball(source())
  adding.catch(() => {})
  // Until the add has read all of its input, or nothing moves any more (it waits on the held writes: no fs request
  // in flight, no new write, no new pull for 50 turns of the event loop); then let the writes go.
  for (let still = 0, last = -1; !input.exhausted && still < 50; still++) {
    const busy = process.getActiveResourcesInfo().some(resource => resource.startsWith('FSReq'))
    if (progress !== last || busy) { last = progress; still = 0 }
    await new Promise(resolve => setImmediate(resolve))
  }
  holding = false
  for (const run of held.splice(0)) run()
  const index = await adding
  expect(index.files.size).toBe(ENTRIES)
  // The feeder's bound (32 MiB of entries read and waiting for their writes) and the entry being read (2 MiB), not
  // a batch per entry of the tarball.
  expect(maxPendingBytes).toBeLessThanOrEqual(34 * MiB)
  await store.close()
}, 60_000)
