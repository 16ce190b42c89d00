// Large copies leave the event loop free and are bounded: a copy over the synchronous I/O limit goes through
// graceful-fs (the thread pool), and at most four are in flight per import, so a package of many large files does
// not open a descriptor pair per file at once. graceful-fs's copyFile is wrapped here so each copy can be held in
// flight and let go by the test: a pause point in the one place the import waits on the thread pool.
import fs from 'node:fs'
import path from 'node:path'
import { afterEach, expect, it, vi } from 'vitest'
import { fillStage } from '../../lib/import/fillStage.js'
import { MethodLadder } from '../../lib/import/importMethod.js'
import type { PackageFile } from '../../lib/import/packageFiles.js'
import { SYNC_IO_LIMIT } from '../../lib/util/hash.js'
import { listFiles, tempDir } from '../helpers/tmp.js'

type Callback = (err: NodeJS.ErrnoException | null) => void
interface Held { src: string, release: () => void }

const copies = vi.hoisted(() => ({
  hold: false,
  held: [] as Held[],
  onHold: undefined as undefined | (() => void),
}))

vi.mock('graceful-fs', async (importOriginal) => {
  const mod = await importOriginal<{ default: typeof import('graceful-fs') }>()
  const real = mod.default
  const copyFile = (src: string, dest: string, mode: number, cb: Callback): void => {
    if (!copies.hold) { real.copyFile(src, dest, mode, cb); return }
    // Released once only: a test lets a copy go itself, and afterEach lets go whatever is still held. A second
    // real copy started there wrote into the temp folder while it was being removed (ENOTEMPTY in cleanup).
    let released = false
    copies.held.push({ src, release: () => { if (!released) { released = true; real.copyFile(src, dest, mode, cb) } } })
    copies.onHold?.()
  }
  return { ...mod, default: { ...real, copyFile } }
})

afterEach(() => {
  copies.hold = false
  copies.onHold = undefined
  for (const held of copies.held.splice(0)) held.release()
})

/** Resolves once `n` copies have been held in all. */
async function heldCount (n: number): Promise<void> {
  await new Promise<void>(resolve => {
    copies.onHold = () => { if (copies.held.length >= n) resolve() }
    copies.onHold()
  })
}

/** Lets the event loop turn once (timers, I/O, immediates): a blocked loop would not get here. */
const turn = async (): Promise<void> => { await new Promise<void>(resolve => { setImmediate(resolve) }) }

function largePackage (count: number): { stage: string, files: PackageFile[], ladder: MethodLadder } {
  const dir = tempDir()
  const stage = path.join(dir, '.pkg.cas-import-test')
  fs.mkdirSync(stage)
  const files = Array.from({ length: count }, (_, i) => {
    const src = path.join(dir, `content-${i}`)
    fs.writeFileSync(src, Buffer.alloc(SYNC_IO_LIMIT + 1, String(i)))
    const info = { digest: '0'.repeat(128), mode: 0o644, size: SYNC_IO_LIMIT + 1 }
    return { name: `big${i}.bin`, info, src, storeMode: 0o644 }
  })
  return { stage, files, ladder: new MethodLadder(dir, fs.statSync(stage).dev, 'copy', false) }
}

it('a large copy runs in the thread pool: the event loop turns while it is in flight, then the file is there', async () => {
  const { stage, files, ladder } = largePackage(1)
  copies.hold = true
  let settled = false
  const filled = fillStage(stage, [], files, ladder).finally(() => { settled = true })
  await Promise.race([heldCount(1), filled])
  expect(copies.held.map(h => h.src)).toEqual([files[0]!.src])
  await turn()
  expect(settled).toBe(false)
  copies.held[0]!.release()
  expect(await filled).toBe('copy')
  expect(listFiles(stage)).toEqual(['big0.bin'])
})

it('at most four large copies are in flight at once; each one done starts the next', async () => {
  const { stage, files, ladder } = largePackage(6)
  copies.hold = true
  const filled = fillStage(stage, [], files, ladder)
  await heldCount(4)
  await turn()
  expect(copies.held).toHaveLength(4)
  copies.held[0]!.release()
  await heldCount(5)
  await turn()
  expect(copies.held).toHaveLength(5)
  copies.hold = false
  for (const held of copies.held.slice(1)) held.release()
  copies.held.splice(0)
  expect(await filled).toBe('copy')
  expect(listFiles(stage)).toEqual(files.map(f => f.name).sort())
})
