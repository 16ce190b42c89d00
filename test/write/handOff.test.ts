// The writer in a store thread's context (`handOff` set: store threads take no OS lock), run here in the test
// process: it records its two locked steps instead of taking the path lock, and the calling thread completes
// them (`completeStep`) or drops them (`dropSteps`). Also the rename's failure verdicts, each from a real cause
// or, where the OS gives none here, an injected one.
import fs from 'node:fs'
import { Readable } from 'node:stream'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { createStoreContext, type LockedStep, type StoreContext } from '../../lib/context.js'
import { contentPathFor } from '../../lib/layout/contentPath.js'
import { OWNER_SUFFIX, ownerId } from '../../lib/layout/tempName.js'
import { tempWriterAlive } from '../../lib/lock/tempOwner.js'
import { taskContext } from '../../lib/threads/threadStores.js'
import { completeStep, dropSteps } from '../../lib/write/completeStep.js'
import { ensureFile } from '../../lib/write/ensureFile.js'
import { sha512Hex } from '../helpers/content.js'
import { tempDir } from '../helpers/tmp.js'

const opened: StoreContext[] = []
function context (root = tempDir()): StoreContext {
  const ctx = createStoreContext({ root, fsync: false })
  opened.push(ctx)
  return ctx
}
/** Temp files left in the store's tmp/ (none when it was never created). */
function tempsLeft (ctx: StoreContext): string[] {
  return fs.existsSync(ctx.tmpDir) ? fs.readdirSync(ctx.tmpDir) : []
}
afterEach(() => {
  vi.restoreAllMocks()
  for (const ctx of opened.splice(0)) { ctx.tempOwner?.release(); ctx.lock.close() }
})

describe('the writer in a store thread hands its locked steps to the calling thread', () => {
  for (const [name, content] of [['a buffer', () => Buffer.from('handed off\n')], ['a stream', () => Readable.from([Buffer.from('handed off\n')])]] as const) {
    it(`new content (${name}): a rename step, nothing at the target until the calling thread completes it`, async () => {
      const caller = context()
      const handOff: LockedStep[] = []
      const inThread = taskContext({ root: caller.root, fsync: false }, handOff)
      const added = await ensureFile(inThread, content(), { mode: 0o644 })
      expect(handOff).toEqual([{ kind: 'rename', temp: expect.any(String), target: added.filePath, digest: added.digest, size: 11 }])
      const step = handOff[0] as Extract<LockedStep, { kind: 'rename' }>
      expect(fs.existsSync(added.filePath)).toBe(false)
      expect(fs.readFileSync(step.temp, 'utf8')).toBe('handed off\n')
      expect(await completeStep(caller, step)).toBe(true)
      expect(fs.readFileSync(added.filePath, 'utf8')).toBe('handed off\n')
      expect(fs.existsSync(step.temp)).toBe(false)
    })
  }

  it('content already stored: a claim step (no temp left); completing it claims the file, or says it is gone', async () => {
    const caller = context()
    const stored = await ensureFile(caller, Buffer.from('already here\n'), { mode: 0o644 })
    const handOff: LockedStep[] = []
    const inThread = taskContext({ root: caller.root, fsync: false }, handOff)
    expect(await ensureFile(inThread, Buffer.from('already here\n'), { mode: 0o644 })).toMatchObject({ filePath: stored.filePath })
    expect(handOff).toEqual([{ kind: 'claim', target: stored.filePath, digest: stored.digest }])
    expect(tempsLeft(caller)).toEqual([])
    expect(await completeStep(caller, handOff[0]!)).toBe(true)
    fs.rmSync(stored.filePath) // prune took it before the claim
    expect(await completeStep(caller, handOff[0]!)).toBe(false)
  })

  it('dropSteps removes the temp files of rename steps, and leaves a claimed file alone', async () => {
    const caller = context()
    const stored = await ensureFile(caller, Buffer.from('keep me\n'), { mode: 0o644 })
    const handOff: LockedStep[] = []
    const inThread = taskContext({ root: caller.root, fsync: false }, handOff)
    await ensureFile(inThread, Buffer.from('keep me\n'), { mode: 0o644 })
    await ensureFile(inThread, Buffer.from('never placed\n'), { mode: 0o644 })
    const temps = handOff.flatMap(step => step.kind === 'rename' ? [step.temp] : [])
    expect(temps).toHaveLength(1)
    dropSteps(handOff)
    expect(temps.filter(temp => fs.existsSync(temp))).toEqual([])
    expect(fs.readFileSync(stored.filePath, 'utf8')).toBe('keep me\n')
  })
})

describe('finalize: a rename that fails', () => {
  it('holds the owner record before its first temp file, buffer or stream (prune sees the temp as live work)', async () => {
    const buffered = context()
    await ensureFile(buffered, Buffer.from('owned\n'), { mode: 0o644 })
    expect(tempWriterAlive(buffered.root, ownerId() + OWNER_SUFFIX)).toBe(true)
    const streamed = context()
    await ensureFile(streamed, Readable.from([Buffer.from('owned\n')]), { mode: 0o644 })
    expect(tempWriterAlive(streamed.root, ownerId() + OWNER_SUFFIX)).toBe(true)
  })

  it('over a directory at the target: ERR_CAS_NOT_A_FILE, the directory kept, no temp left', async () => {
    const ctx = context()
    const bytes = Buffer.from('blocked by a folder\n')
    const target = contentPathFor(ctx.root, sha512Hex(bytes), 0o644)
    fs.mkdirSync(`${target}/inside`, { recursive: true })
    await expect(ensureFile(ctx, bytes, { mode: 0o644 })).rejects.toMatchObject({ code: 'ERR_CAS_NOT_A_FILE' })
    expect(fs.existsSync(`${target}/inside`)).toBe(true)
    expect(tempsLeft(ctx)).toEqual([])
  })

  for (const code of ['EIO', 'ENOENT']) {
    it(`${code} with the temp file still there and nothing at the target: ERR_CAS_FILE_ACCESS, no temp left`, async () => {
      const ctx = context()
      const renameSync = fs.renameSync
      vi.spyOn(fs, 'renameSync').mockImplementation((from, to) => {
        if (String(to).includes('/files/')) throw Object.assign(new Error(`${code}: rename`), { code, syscall: 'rename' })
        renameSync(from, to)
      })
      await expect(ensureFile(ctx, Buffer.from(`${code}\n`), { mode: 0o644 })).rejects.toMatchObject({ code: 'ERR_CAS_FILE_ACCESS' })
      expect(tempsLeft(ctx)).toEqual([])
    })
  }
})
