// A disk slower than the unpacking: a streamed tarball whose entries are just over 1 MiB, so each is streamed into
// its file in batches. An entry's body is read once all but its last batch are written; its last write may still
// be pending when the parser moves on. Without a bound the feeder then goes on through every entry, each leaving a
// write pending with its batches and a descriptor. The feeder counts an entry whose body is read as buffered (as
// it does small entries read into memory: 32 MiB, 64 entries at most) and waits once past that.
import crypto from 'node:crypto'
import gfs from 'graceful-fs'
import { afterEach, expect, it, vi } from 'vitest'
import { openStore } from '../../lib/index.js'
import { STREAM_BATCH_BYTES } from '../../lib/write/writeTemp.js'
import { makeTarball } from '../helpers/tarball.js'
import { tempDir } from '../helpers/tmp.js'

const MiB = 1024 * 1024
const ENTRIES = 100 // past the feeder's 64 entries

afterEach(() => { vi.restoreAllMocks() })

it('last writes held (a slow disk): entries read to their end wait for the feeder\'s bound, not one per entry', async () => {
  const store = await openStore(tempDir())
  const entries = Array.from({ length: ENTRIES }, (_, i) => ({ path: `package/f${i}.bin`, body: crypto.randomBytes(MiB + 1) }))
  const tar = makeTarball(entries, { gzip: false })

  // Full batches are written; each entry's last write (its 1-byte tail) waits until the test lets it go.
  const realWrite = gfs.write
  const held: Array<() => void> = []
  let holding = true
  let progress = 0
  let maxHeld = 0
  vi.spyOn(gfs, 'write').mockImplementation(((...args: unknown[]) => {
    progress++
    const run = (): void => { (realWrite as (...a: unknown[]) => void)(...args) }
    if (holding && (args[3] as number) < STREAM_BATCH_BYTES) {
      held.push(run)
      maxHeld = Math.max(maxHeld, held.length)
    } else run()
  }) as typeof gfs.write)

  const input = { exhausted: false }
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
  // The feeder's 64 entries and the one being read: not one per entry of the tarball.
  expect(maxHeld).toBeLessThanOrEqual(66)
  expect(maxHeld).toBeGreaterThan(1) // the tails were indeed held while the add went on
  await store.close()
}, 60_000)
