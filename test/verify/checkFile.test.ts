// checkFile, the verifier of one content file, called directly: its exact verdicts (verifyStore and
// checkPkgFilesIntegrity act on them), where its fast path ends, and what it does when the file changes under it.
import fs from 'node:fs'
import path from 'node:path'
import { describe, expect, it, vi } from 'vitest'
import { createStoreContext, type StoreContext } from '../../lib/context.js'
import { contentPathFor } from '../../lib/layout/contentPath.js'
import type { TestHooks } from '../../lib/util/hooks.js'
import { checkFile } from '../../lib/verify/checkFile.js'
import { sha512Hex } from '../helpers/content.js'
import { gate } from '../helpers/gate.js'
import { tempDir } from '../helpers/tmp.js'

const TEXT = 'the right bytes of a content file\n'
const DIGEST = sha512Hex(TEXT)
const SIZE = TEXT.length
/** A whole second, so mtimes set from it are exact to the millisecond. */
const CHECKED_AT = 1_700_000_000_000

function context (hooks?: TestHooks): StoreContext {
  return createStoreContext({ root: tempDir(), fsync: false, hooks })
}

/** Puts `bytes` at the content path of TEXT, with its mtime at `mtime` (ms) when given. */
function place (ctx: StoreContext, bytes: string | Buffer, mtime?: number): string {
  const file = contentPathFor(ctx.root, DIGEST, 0o644)
  fs.mkdirSync(path.dirname(file), { recursive: true })
  fs.writeFileSync(file, bytes)
  // Whole seconds: a fraction would round on its way to nanoseconds and miss the boundary tests' exact ms.
  if (mtime !== undefined) fs.utimesSync(file, mtime / 1000, mtime / 1000)
  return file
}

const sameSizeGarbage = '!'.repeat(SIZE)

describe('checkFile verdicts', () => {
  it('good (hashed), missing, corrupt and removed, corrupt and kept (report only), corrupt and young', async () => {
    const ctx = context()
    const file = place(ctx, TEXT)
    expect(await checkFile(ctx, file, DIGEST, SIZE, 0)).toEqual({ status: 'good', removed: false, rehashed: true })
    expect(await checkFile(ctx, file + 'x', DIGEST, SIZE, 0)).toEqual({ status: 'missing', removed: false, rehashed: false })
    place(ctx, sameSizeGarbage)
    expect(await checkFile(ctx, file, DIGEST, SIZE, 0, { remove: false }))
      .toEqual({ status: 'corrupt', removed: false, rehashed: true, links: 1, changedAt: expect.any(Number) })
    expect(await checkFile(ctx, file, DIGEST, SIZE, 0, { graceMs: 60_000 }))
      .toEqual({ status: 'corrupt', removed: false, rehashed: true, young: true, links: 1, changedAt: expect.any(Number) })
    expect(fs.existsSync(file)).toBe(true)
    expect(await checkFile(ctx, file, DIGEST, SIZE, 0))
      .toEqual({ status: 'corrupt', removed: true, rehashed: true, links: 1, changedAt: expect.any(Number) })
    expect(fs.existsSync(file)).toBe(false)
    ctx.lock.close()
  })

  it('a directory at the content path: corrupt, never removed', async () => {
    const ctx = context()
    const file = contentPathFor(ctx.root, DIGEST, 0o644)
    fs.mkdirSync(file, { recursive: true })
    expect(await checkFile(ctx, file, DIGEST, SIZE, 0)).toEqual({ status: 'corrupt', removed: false, rehashed: true })
    expect(fs.statSync(file).isDirectory()).toBe(true)
    ctx.lock.close()
  })
})

describe('checkFile: when a corrupt file is kept', () => {
  it('a read-only store reports it and keeps it, whatever the policy says', async () => {
    const root = tempDir()
    const ctx = createStoreContext({ root, fsync: false, readOnly: true })
    const file = place(ctx, sameSizeGarbage)
    expect(await checkFile(ctx, file, DIGEST, SIZE, 0, { remove: true, graceMs: 0 }))
      .toMatchObject({ status: 'corrupt', removed: false })
    expect(fs.readFileSync(file, 'utf8')).toBe(sameSizeGarbage)
  })

  it('older than the grace period (by the store\'s clock) it is removed; the report has when it last changed', async () => {
    const now = { ms: Date.now() }
    const ctx = createStoreContext({ root: tempDir(), fsync: false, now: () => now.ms })
    const file = place(ctx, sameSizeGarbage, CHECKED_AT) // mtime in the past; its ctime is now
    const { ctimeMs } = fs.statSync(file)
    expect(await checkFile(ctx, file, DIGEST, SIZE, 0, { graceMs: 60_000 }))
      .toMatchObject({ status: 'corrupt', removed: false, young: true, changedAt: ctimeMs })
    now.ms += 61_000
    expect(await checkFile(ctx, file, DIGEST, SIZE, 0, { graceMs: 60_000 }))
      .toEqual({ status: 'corrupt', removed: true, rehashed: true, links: 1, changedAt: ctimeMs })
    expect(fs.existsSync(file)).toBe(false)
    ctx.lock.close()
  })

  it('a file that cannot be read (EIO) is ERR_CAS_FILE_ACCESS, never a verdict', async () => {
    const ctx = context()
    const file = place(ctx, sameSizeGarbage)
    const readFileSync = fs.readFileSync
    vi.spyOn(fs, 'readFileSync').mockImplementation(((target: fs.PathOrFileDescriptor, ...rest: unknown[]) => {
      if (target === file) throw Object.assign(new Error('EIO: i/o error, read'), { code: 'EIO', syscall: 'read' })
      return (readFileSync as (...args: unknown[]) => unknown)(target, ...rest)
    }) as typeof fs.readFileSync)
    try {
      await expect(checkFile(ctx, file, DIGEST, SIZE, 0)).rejects.toMatchObject({ code: 'ERR_CAS_FILE_ACCESS', path: file })
    } finally {
      vi.restoreAllMocks()
    }
    expect(fs.existsSync(file)).toBe(true)
    ctx.lock.close()
  })
})

describe('checkFile fast path (one stat, no read)', () => {
  it('trusts a file of the right size whose mtime is at most 100 ms past checkedAt, and nothing else', async () => {
    const ctx = context()
    // Garbage of the right size, so only a read could tell: trusted means not read. The mtime is a whole second
    // and checkedAt is 100 or 101 ms before it.
    const file = place(ctx, sameSizeGarbage, CHECKED_AT)
    expect(fs.statSync(file).mtimeMs).toBe(CHECKED_AT)
    expect(await checkFile(ctx, file, DIGEST, SIZE, CHECKED_AT - 100, { remove: false }))
      .toEqual({ status: 'good', removed: false, rehashed: false })
    expect(await checkFile(ctx, file, DIGEST, SIZE, CHECKED_AT - 101, { remove: false })).toMatchObject({ status: 'corrupt' })
    place(ctx, sameSizeGarbage, CHECKED_AT)
    expect(await checkFile(ctx, file, DIGEST, SIZE, undefined, { remove: false })).toMatchObject({ status: 'corrupt' })
    ctx.lock.close()
  })

  it('a size other than the index\'s is read, however fresh the mtime', async () => {
    const ctx = context()
    const file = place(ctx, TEXT.slice(1), CHECKED_AT) // truncated in place, mtime kept
    expect(await checkFile(ctx, file, DIGEST, SIZE, CHECKED_AT, { remove: false })).toMatchObject({ status: 'corrupt' })
    ctx.lock.close()
  })

  it('full: every file is read (cas verify --full), and a good one is reported as re-hashed', async () => {
    const ctx = context()
    const file = place(ctx, sameSizeGarbage, CHECKED_AT)
    expect(await checkFile(ctx, file, DIGEST, SIZE, CHECKED_AT, { full: true, remove: false })).toMatchObject({ status: 'corrupt' })
    place(ctx, TEXT, CHECKED_AT)
    expect(await checkFile(ctx, file, DIGEST, SIZE, CHECKED_AT, { full: true }))
      .toEqual({ status: 'good', removed: false, rehashed: true })
    ctx.lock.close()
  })

  it('a directory whose size happens to match is not trusted', async () => {
    const ctx = context()
    const file = contentPathFor(ctx.root, DIGEST, 0o644)
    fs.mkdirSync(file, { recursive: true })
    fs.utimesSync(file, new Date(CHECKED_AT), new Date(CHECKED_AT))
    const dirSize = fs.statSync(file).size
    expect(await checkFile(ctx, file, DIGEST, dirSize, CHECKED_AT)).toMatchObject({ status: 'corrupt', removed: false })
    ctx.lock.close()
  })
})

describe('checkFile takes the path lock only for a suspect file', () => {
  it('good and missing files are final without the lock', async () => {
    let suspects = 0
    const ctx = context({ 'verifier:suspect': () => { suspects++ } })
    const file = place(ctx, TEXT)
    expect(await checkFile(ctx, file, DIGEST, SIZE, 0)).toMatchObject({ status: 'good' })
    fs.rmSync(file)
    expect(await checkFile(ctx, file, DIGEST, SIZE, 0)).toMatchObject({ status: 'missing' })
    expect(suspects).toBe(0)
    place(ctx, sameSizeGarbage)
    await checkFile(ctx, file, DIGEST, SIZE, 0, { remove: false })
    expect(suspects).toBe(1)
    ctx.lock.close()
  })

  it('the re-check under the lock finds the file gone: missing, nothing removed', async () => {
    const parked = gate()
    const ctx = context({ 'verifier:locked': parked.wait })
    const file = place(ctx, sameSizeGarbage)
    const checking = checkFile(ctx, file, DIGEST, SIZE, 0)
    await parked.reached // lock held, the re-check not made yet
    fs.rmSync(file) // a tool that takes no lock (pnpm) removed it
    parked.open()
    expect(await checking).toEqual({ status: 'missing', removed: false, rehashed: false })
    ctx.lock.close()
  })

  it('proven wrong, then removed by someone else before the unlink: counted as removed', async () => {
    const parked = gate()
    const ctx = context({ 'verifier:provenWrong': parked.wait })
    const file = place(ctx, sameSizeGarbage)
    const checking = checkFile(ctx, file, DIGEST, SIZE, 0)
    await parked.reached
    fs.rmSync(file)
    parked.open()
    expect(await checking).toEqual({ status: 'corrupt', removed: true, rehashed: true, links: 1, changedAt: expect.any(Number) })
    ctx.lock.close()
  })

  it('an unlink that fails for another reason is ERR_CAS_FILE_ACCESS naming the path', async () => {
    const parked = gate()
    const ctx = context({ 'verifier:provenWrong': parked.wait })
    const file = place(ctx, sameSizeGarbage)
    const checking = checkFile(ctx, file, DIGEST, SIZE, 0)
    await parked.reached
    fs.rmSync(file)
    fs.mkdirSync(file) // unlink(2) of a directory fails EISDIR, as a read-only store fails EROFS
    parked.open()
    await expect(checking).rejects.toMatchObject({ code: 'ERR_CAS_FILE_ACCESS', path: file })
    ctx.lock.close()
  })

  it('a path that cannot be stat\'ed (a symlink loop in the way) is ERR_CAS_FILE_ACCESS, not "missing"', async () => {
    const ctx = context()
    const file = contentPathFor(ctx.root, DIGEST, 0o644)
    fs.mkdirSync(path.dirname(path.dirname(file)), { recursive: true })
    fs.symlinkSync(path.basename(path.dirname(file)), path.dirname(file)) // files/xx -> xx: ELOOP
    await expect(checkFile(ctx, file, DIGEST, SIZE, 0)).rejects.toMatchObject({ code: 'ERR_CAS_FILE_ACCESS', path: file })
    ctx.lock.close()
  })
})
