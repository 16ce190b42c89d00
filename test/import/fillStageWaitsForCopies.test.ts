// An import's large copies run a few at a time (fillStage). When one fails, the import must not be over while
// another copy still writes into its folder: the import's cleanup removes that folder, and the store's close (which
// waits for the import) releases the owner record that protects it. graceful-fs's copyFile is replaced so that the
// first copy fails at once (EACCES) and the second is held until the test lets it go.
import fs from 'node:fs'
import path from 'node:path'
import { expect, it, vi } from 'vitest'
import { fillStage } from '../../lib/import/fillStage.js'
import { MethodLadder } from '../../lib/import/importMethod.js'
import { SYNC_IO_LIMIT } from '../../lib/util/hash.js'
import { tempDir } from '../helpers/tmp.js'

type Callback = (err: NodeJS.ErrnoException | null) => void
const copies = vi.hoisted(() => ({ held: [] as Array<() => void> }))
vi.mock('graceful-fs', async (importOriginal) => {
  const mod = await importOriginal<{ default: typeof import('graceful-fs') }>()
  const real = mod.default
  const copyFile = (src: string, dest: string, mode: number, cb: Callback): void => {
    if (src.endsWith('content-0')) { cb(Object.assign(new Error('EACCES'), { code: 'EACCES' })); return }
    copies.held.push(() => { real.copyFile(src, dest, mode, cb) })
  }
  return { ...mod, default: { ...real, copyFile } }
})

it('is not over while a large copy still runs after another failed, then throws the failure', async () => {
  const dir = tempDir()
  const stage = path.join(dir, '.pkg.cas-import-test')
  fs.mkdirSync(stage)
  const files = [0, 1].map(i => {
    const src = path.join(dir, `content-${i}`)
    fs.writeFileSync(src, Buffer.alloc(SYNC_IO_LIMIT + 1, String(i)))
    return { name: `big${i}.bin`, info: { digest: '0'.repeat(128), mode: 0o644, size: SYNC_IO_LIMIT + 1 }, src, storeMode: 0o644 }
  })
  const ladder = new MethodLadder(dir, fs.statSync(stage).dev, 'copy', false)
  let settled = false
  const filled = fillStage(stage, [], files, ladder).finally(() => { settled = true })
  filled.catch(() => {})
  for (let i = 0; i < 20 && copies.held.length === 0; i++) await new Promise(resolve => setImmediate(resolve))
  expect(copies.held).toHaveLength(1)
  for (let i = 0; i < 5; i++) await new Promise(resolve => setImmediate(resolve))
  expect(settled).toBe(false)
  copies.held[0]!()
  await expect(filled).rejects.toMatchObject({ code: 'ERR_CAS_FILE_ACCESS' })
})
