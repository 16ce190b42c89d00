// The verifier with the store's threads (lib/verify/checkFiles.ts): the same verdicts as without them; a thread
// only ever proves a file good, every other file is judged (and removed) by checkFile on the calling thread under
// the path lock; a thread that dies or a store closed meanwhile leaves the files to the calling thread.
import fs from 'node:fs'
import os from 'node:os'
import { describe, expect, it, vi } from 'vitest'
import { openStore, packageIndexKey, type FileInfo, type Store, type VerifyReport } from '../../lib/index.js'
import { ThreadPool } from '../../lib/threads/threadPool.js'
import { CHUNK, checkFiles, type FileToCheck } from '../../lib/verify/checkFiles.js'
import { HASHED_GOOD } from '../../lib/verify/hashInThread.js'
import { PACKAGE_CHUNK } from '../../lib/maint/verifyStore.js'
import { checkPkgFilesIntegrity } from '../../lib/verify/checkPkgFilesIntegrity.js'
import { runFixture } from '../helpers/child.js'
import { contentOf } from '../helpers/content.js'
import { gate, signal } from '../helpers/gate.js'
import { contextOnPool, threadedContext, THREAD_STORES } from '../helpers/threads.js'
import { tempDir } from '../helpers/tmp.js'

const COUNT = 150 // files to re-hash: above MIN_THREAD_BATCH (64), and more than one task of 128
/** Fills `store` with COUNT files (checkedAt 0: each must be re-hashed); returns the index's files. */
async function filled (store: Store, seed: string): Promise<Map<string, FileInfo>> {
  const files = new Map<string, FileInfo>()
  for (let i = 0; i < COUNT; i++) {
    const mode = i % 9 === 0 ? 0o755 : 0o644
    const added = await store.ensureFile(contentOf(seed, i, 100 + (i * 37) % 3000), { mode })
    files.set(`f${i}.js`, { digest: added.digest, mode, size: added.size, checkedAt: 0 })
  }
  return files
}

/** Damages the same files in any store filled with the same seed: two corrupt (one resized), one missing. */
function damage (store: Store, files: Map<string, FileInfo>): void {
  const at = (name: string): string => store.filePathFor(files.get(name)!.digest, files.get(name)!.mode)
  fs.writeFileSync(at('f7.js'), Buffer.alloc(files.get('f7.js')!.size, '!')) // same size: only a hash can tell
  fs.writeFileSync(at('f40.js'), 'shorter')
  fs.rmSync(at('f99.js'))
}

const verdictsOf = (r: VerifyReport): unknown => ({
  problems: r.problems.map(p => [p.file, p.problem, p.action]),
  filesChecked: r.filesChecked,
  filesTrusted: r.filesTrusted,
  orphans: r.orphans,
  deletedIndexes: r.deletedIndexes.length,
})

describe('threaded hashing gives the verdicts of --jobs 1 (one file at a time, no threads)', () => {
  it('verifyStore --full and --fix: the same problems, the same repairs, the threads used only where allowed', async () => {
    const reports: Record<string, unknown> = {}
    for (const [name, threads, jobs] of [['threads', 2, undefined], ['jobs 1', 2, 1], ['no threads', 0, undefined]] as const) {
      const toThreads: string[] = []
      const store = await openStore(tempDir(), { threads, _hooks: { 'verifier:toThreads': ({ path }) => { toThreads.push(path) } } })
      const files = await filled(store, 'same')
      await store.writePackageIndex(packageIndexKey('sha512-AAAA', 'pkg@1.0.0'), { algo: 'sha512', files })
      await store.ensureFile(Buffer.from('nobody references me'), { mode: 0o644 })
      damage(store, files)
      const options = jobs === undefined ? {} : { jobs }
      const full = await store.verifyStore({ full: true, ...options })
      const fixed = await store.verifyStore({ full: true, fix: true, graceMs: 0, ...options })
      reports[name] = { full: verdictsOf(full), fixed: verdictsOf(fixed) }
      expect({ name, usedThreads: toThreads.length > 0 }).toEqual({ name, usedThreads: name === 'threads' })
      await store.close()
    }
    expect(reports.threads).toEqual(reports['no threads'])
    expect(reports['jobs 1']).toEqual(reports['no threads'])
    expect((reports.threads as { full: { problems: unknown } }).full.problems).toEqual([
      ['f40.js', 'corrupt', 'none'], ['f7.js', 'corrupt', 'none'], ['f99.js', 'missing', 'none']])
    expect((reports.threads as { fixed: { problems: unknown } }).fixed.problems).toEqual([
      ['f40.js', 'corrupt', 'removed'], ['f7.js', 'corrupt', 'removed'], ['f99.js', 'missing', 'none']])
  })

  it('checkPkgFilesIntegrity: the same result, corrupt files removed, checkedAt renewed for the good ones', async () => {
    const results: unknown[] = []
    for (const threads of [2, 0]) {
      const toThreads: string[] = []
      const store = await openStore(tempDir(), { threads, _hooks: { 'verifier:toThreads': ({ path }) => { toThreads.push(path) } } })
      const files = await filled(store, 'same')
      damage(store, files)
      const result = await store.checkPkgFilesIntegrity({ algo: 'sha512', files })
      const renewed = [...files].filter(([, info]) => (info.checkedAt ?? 0) > 0).length
      const left = [...files.values()].filter(info => fs.existsSync(store.filePathFor(info.digest, info.mode))).length
      results.push({ result, renewed, left })
      expect(toThreads.length > 0).toBe(threads > 0)
      await store.close()
    }
    expect(results[0]).toEqual(results[1])
    expect(results[0]).toEqual({
      result: { passed: false, missing: ['f99.js'], corrupt: ['f7.js', 'f40.js'], removed: ['f7.js', 'f40.js'] },
      renewed: COUNT - 3,
      left: COUNT - 3,
    })
  })
})

it('a corrupt file the threads found is removed only after the locked re-check: a writer\'s fix in between survives', async () => {
  const handedOver = gate()
  const suspect = gate()
  const dir = tempDir()
  const store = await openStore(dir, { threads: 2, _hooks: { 'verifier:toThreads': handedOver.wait, 'verifier:suspect': suspect.wait } })
  const writer = await openStore(dir, { threads: 0 })
  const files = await filled(store, 'race')
  const info = files.get('f5.js')!
  const target = store.filePathFor(info.digest, info.mode)
  const good = fs.readFileSync(target)
  fs.writeFileSync(target, Buffer.alloc(info.size, 9)) // wrong when the threads read it

  const verifying = store.checkPkgFilesIntegrity({ algo: 'sha512', files })
  const decidedEarly = verifying.then(() => { throw new Error('the verifier decided without the threads or the lock') })
  await Promise.race([handedOver.reached, decidedEarly])
  handedOver.open() // the threads hash; f5 is not good when they read it
  await Promise.race([suspect.reached, decidedEarly]) // the calling thread looked again: still wrong, lock not taken
  await writer.ensureFile(good, { mode: info.mode }) // a writer replaces it, renaming under the path lock
  suspect.open()

  expect(await verifying).toEqual({ passed: true, missing: [], corrupt: [], removed: [] })
  expect(fs.readFileSync(target).equals(good)).toBe(true)
  await writer.close()
  await store.close()
})

/** A pool whose every task runs `die` in its thread: the thread exits under the task. */
class DyingPool extends ThreadPool {
  tasks = 0
  override async run<T>(_module: URL, _fn: string, payload: unknown): Promise<T> {
    this.tasks++
    return await super.run<T>(new URL('../fixtures/threadDies.ts', import.meta.url), 'die', payload)
  }
}

/** A pool whose threads answer a hashing task with one byte too many, every one "hashed good". */
class OverAnsweringPool extends ThreadPool {
  override async run<T>(module: URL, fn: string, payload: unknown, threads?: number): Promise<T> {
    if (fn !== 'hashFiles') return await super.run<T>(module, fn, payload, threads)
    return new Uint8Array((payload as { paths: string[] }).paths.length + 1).fill(1) as T
  }
}

it('an answer that is not one byte per file of its chunk proves nothing: the damaged files are still found', async () => {
  const store = await openStore(tempDir(), { threads: 0 })
  const files = await filled(store, 'over')
  damage(store, files)
  const { ctx, done } = contextOnPool(store.root, new OverAnsweringPool(2, THREAD_STORES))
  const verdicts = await checkFiles(ctx, toRehash(store, files), {}, { threads: true })
  const names = [...files.keys()]
  expect(verdicts.flatMap((v, i) => v.status === 'good' ? [] : [[names[i], v.status]]))
    .toEqual([['f7.js', 'corrupt'], ['f40.js', 'corrupt'], ['f99.js', 'missing']])
  await done()
  await store.close()
})

/** A pool whose threads answer every hashing task at once, every file good: answers come in at any await. */
class InstantPool extends ThreadPool {
  override async run<T>(module: URL, fn: string, payload: unknown, threads?: number): Promise<T> {
    if (fn !== 'hashFiles') return await super.run<T>(module, fn, payload, threads)
    return new Uint8Array((payload as { paths: string[] }).paths.length).fill(HASHED_GOOD) as T
  }
}

it('a verdict listener that throws while a thread\'s answer is read: the call fails with its error, nothing is left unhandled, no chunk is handed out after it', async () => {
  // The answer is read during the stat pass's turn of the event loop, before anything waits for it: a rejection
  // not caught at once was reported as unhandled (and ended a plain Node process).
  const store = await openStore(tempDir(), { threads: 0 })
  const files = await filled(store, 'instant') // 150 files to re-hash: chunks of 64, 64 and 22
  const pool = new InstantPool(2, THREAD_STORES)
  const asked = vi.spyOn(pool, 'run')
  const { ctx, done } = contextOnPool(store.root, pool)
  const unhandled: unknown[] = []
  const onUnhandled = (reason: unknown): void => { unhandled.push(reason) }
  process.on('unhandledRejection', onUnhandled)
  try {
    let calls = 0
    const onVerdict = (): void => { calls++; throw new Error('listener failed') }
    await expect(checkFiles(ctx, toRehash(store, files), {}, { threads: true, onVerdict })).rejects.toThrow('listener failed')
    await new Promise(resolve => setImmediate(resolve))
    expect(unhandled).toEqual([])
    expect(calls).toBe(1)
    expect(asked.mock.calls.filter(([, fn]) => fn === 'hashFiles')).toHaveLength(1)
  } finally {
    process.off('unhandledRejection', onUnhandled)
    await done()
    await store.close()
  }
})

/** A pool whose hashing tasks are answered only once `held` is opened: every file good. */
class HeldPool extends ThreadPool {
  readonly held = gate()
  override async run<T>(module: URL, fn: string, payload: unknown, threads?: number): Promise<T> {
    if (fn !== 'hashFiles') return await super.run<T>(module, fn, payload, threads)
    await this.held.wait()
    return new Uint8Array((payload as { paths: string[] }).paths.length).fill(HASHED_GOOD) as T
  }
}

it('a verdict listener that throws once, on a file hashed here while the threads hold the rest, fails the call', async () => {
  // One thread holds two chunks; the third is hashed here, and its first verdict calls the listener, which lets the
  // thread answer and throws, once. Swallowed, the call would go on, judge the rest itself, and succeed; and the
  // thread's answers, in after the failure, must not reach the listener.
  const store = await openStore(tempDir(), { threads: 0 })
  const files = await filled(store, 'once')
  const pool = new HeldPool(1, THREAD_STORES)
  const { ctx, done } = contextOnPool(store.root, pool)
  let calls = 0
  const onVerdict = (): void => {
    if (++calls > 1) return
    pool.held.open()
    throw new Error('listener failed once')
  }
  await expect(checkFiles(ctx, toRehash(store, files), {}, { threads: true, threadCount: 1, onVerdict }))
    .rejects.toThrow('listener failed once')
  expect(calls).toBe(1) // the thread's answers, in after the failure, were not told to the listener
  await done()
  await store.close()
})

// The listener throws on the first verdict: of a file hashed here after the stat pass, or, with files the fast path
// trusts after the first two chunks, of the stat pass itself. Either way two chunks are still out on the thread.
for (const [where, trustedFrom] of [['hashed here', Infinity], ['in the stat pass', 128]] as const) {
  it(`a verdict listener that throws (${where}) while a thread holds chunks: the call fails only once the thread has answered`, async () => {
    const store = await openStore(tempDir(), { threads: 0 })
    const files = await filled(store, `waits-${trustedFrom}`)
    const trustedAfter = (f: FileToCheck, i: number): FileToCheck =>
      i < trustedFrom ? f : { ...f, checkedAt: fs.statSync(f.path).mtimeMs }
    const checks = toRehash(store, files).map(trustedAfter)
    const pool = new HeldPool(1, THREAD_STORES)
    const { ctx, done } = contextOnPool(store.root, pool)
    const failed = signal()
    const onVerdict = (): void => {
      failed.signal()
      throw new Error('listener failed')
    }
    const checking = checkFiles(ctx, checks, {}, { threads: true, threadCount: 1, onVerdict })
    let settled = false
    checking.then(() => { settled = true }, () => { settled = true })
    await failed.signalled
    for (let i = 0; i < 5; i++) await new Promise(resolve => setImmediate(resolve))
    expect(settled).toBe(false)
    pool.held.open()
    await expect(checking).rejects.toThrow('listener failed')
    await done()
    await store.close()
  })
}

it('a verdict listener that throws once, in the stat pass, fails the call (its error is never swallowed)', async () => {
  const store = await openStore(tempDir(), { threads: 0 })
  const files = await filled(store, 'stat-once')
  const checks = toRehash(store, files).map(f => ({ ...f, checkedAt: fs.statSync(f.path).mtimeMs })) // all trusted
  const { ctx, done } = contextOnPool(store.root, new InstantPool(1, THREAD_STORES))
  let calls = 0
  const onVerdict = (): void => { if (++calls === 1) throw new Error('listener failed in the stat pass') }
  await expect(checkFiles(ctx, checks, {}, { threads: true, onVerdict })).rejects.toThrow('listener failed in the stat pass')
  await done()
  await store.close()
})

it('a thread that dies under its task leaves the files to the calling thread: every verdict still right', async () => {
  const store = await openStore(tempDir(), { threads: 0 })
  const files = await filled(store, 'dies')
  damage(store, files)
  const pool = new DyingPool(2, THREAD_STORES)
  const { ctx, done } = contextOnPool(store.root, pool)
  const verdicts = await checkFiles(ctx, toRehash(store, files), {}, { threads: true })
  expect(pool.tasks).toBeGreaterThan(0) // the files were handed to threads…
  expect(pool.running).toBe(0) // …which died
  const names = [...files.keys()]
  const bad = verdicts.flatMap((v, i) => v.status === 'good' ? [] : [[names[i], v.status, v.removed]])
  expect(bad).toEqual([['f7.js', 'corrupt', true], ['f40.js', 'corrupt', true], ['f99.js', 'missing', false]])
  expect(verdicts.filter(v => v.status === 'good' && v.rehashed)).toHaveLength(COUNT - 3)
  await done()
  await store.close()
})

it('a store closed before its threads answer leaves the files to the calling thread', async () => {
  let store: Store | undefined
  const closing: Array<Promise<void>> = []
  store = await openStore(tempDir(), {
    threads: 2,
    _hooks: { 'verifier:toThreads': async () => { closing.push(store!.close()); await closing[0] } },
  })
  const files = await filled(store, 'closed')
  fs.rmSync(store.filePathFor(files.get('f3.js')!.digest, files.get('f3.js')!.mode))
  const result = await store.checkPkgFilesIntegrity({ algo: 'sha512', files })
  expect(closing).toHaveLength(1)
  expect(result).toEqual({ passed: false, missing: ['f3.js'], corrupt: [], removed: [] })
  expect([...files.values()].filter(info => (info.checkedAt ?? 0) > 0)).toHaveLength(COUNT - 1) // hashed here, renewed
  store = undefined
})

it('idle threads never keep a process alive: a script that verifies on threads and never closes its store exits', async () => {
  // If a thread stayed referenced after its task, this child would never exit and the test would time out.
  const child = runFixture('idleVerifyThreads.ts', [tempDir()])
  const exit = await child.exited
  expect({ exit, out: child.lines.at(-1), stderr: child.stderr() }).toEqual(
    { exit: { code: 0, signal: null }, out: '{"passed":true,"checked":100}', stderr: '' })
})

/** Every file of `files` as checkFiles takes it, to be re-hashed (checkedAt 0). */
function toRehash (store: Store, files: Map<string, FileInfo>): FileToCheck[] {
  return [...files.values()].map(info =>
    ({ path: store.filePathFor(info.digest, info.mode), digest: info.digest, size: info.size, checkedAt: 0 }))
}

describe('how many threads hash: the calling thread is one of the hashers', () => {
  it('checkPkgFilesIntegrity starts one thread per core but its own (2 cores: 1 of 2); checkFiles alone all', async () => {
    vi.spyOn(os, 'availableParallelism').mockReturnValue(2)
    const store = await openStore(tempDir(), { threads: 0 })
    const files = await filled(store, 'count') // 150 files to re-hash: enough chunks to keep two threads busy
    const one = threadedContext(store.root)
    const result = await checkPkgFilesIntegrity(one.ctx, { algo: 'sha512', files: new Map(files) })
    expect(result.passed).toBe(true)
    expect(one.pool.running).toBe(1)
    await one.done()
    const list: FileToCheck[] = toRehash(store, files)
    const all = threadedContext(store.root)
    const verdicts = await checkFiles(all.ctx, list, {}, { threads: true })
    expect(verdicts.every(v => v.status === 'good' && v.rehashed)).toBe(true)
    expect(all.pool.running).toBe(2)
    await all.done()
    // With more cores than threads, every thread hashes beside the calling thread.
    vi.spyOn(os, 'availableParallelism').mockReturnValue(8)
    const many = threadedContext(store.root)
    for (const info of files.values()) info.checkedAt = 0
    expect((await checkPkgFilesIntegrity(many.ctx, { algo: 'sha512', files: new Map(files) })).passed).toBe(true)
    expect(many.pool.running).toBe(2)
    await many.done()
    vi.restoreAllMocks()
    await store.close()
  })

  it('files go to the threads in tasks of `chunk` files: 64 by default, one task for a whole package in a scan', async () => {
    const store = await openStore(tempDir(), { threads: 0 })
    const files = await filled(store, 'chunks') // 150 files
    const list: FileToCheck[] = toRehash(store, files)
    const tasksFor = async (chunk: number | undefined): Promise<number[]> => {
      const pool = new CountingPool(2, THREAD_STORES)
      const { ctx, done } = contextOnPool(store.root, pool)
      const verdicts = await checkFiles(ctx, list, {}, { threads: true, ...(chunk === undefined ? {} : { chunk }) })
      expect(verdicts.every(v => v.status === 'good' && v.rehashed)).toBe(true)
      await done()
      return pool.taskSizes.sort((a, b) => a - b)
    }
    expect(CHUNK).toBe(64)
    expect(await tasksFor(undefined)).toEqual([22, 64, 64]) // the tail goes to the threads too, once they run
    expect(PACKAGE_CHUNK).toBeGreaterThanOrEqual(COUNT)
    expect(await tasksFor(PACKAGE_CHUNK)).toEqual([150])
    await store.close()
  })
})

/** A pool that counts the files of each hashing task it is given. */
class CountingPool extends ThreadPool {
  taskSizes: number[] = []
  override async run<T>(module: URL, fn: string, payload: unknown, threads?: number): Promise<T> {
    if (fn === 'hashFiles') this.taskSizes.push((payload as { paths: string[] }).paths.length)
    return await super.run<T>(module, fn, payload, threads)
  }
}

describe('what the threads settle is settled: the calling thread judges only the rest', () => {
  it('files a thread proved good are never read again on the calling thread; only the corrupt ones are', async () => {
    const store = await openStore(tempDir(), { threads: 2 })
    // COUNT + 10 files: two full chunks and a short tail, which goes to the threads too once they have started.
    // Three chunks fit in the threads' queue at once, so none is left for this thread to hash.
    const files = await filled(store, 'settled')
    for (let i = COUNT; i < COUNT + 10; i++) {
      const added = await store.ensureFile(contentOf('settled', i, 200 + i), { mode: 0o644 })
      files.set(`f${i}.js`, { digest: added.digest, mode: 0o644, size: added.size, checkedAt: 0 })
    }
    damage(store, files)
    const pathOf = (name: string): string => store.filePathFor(files.get(name)!.digest, files.get(name)!.mode)
    // checkFile reads a small file whole (readFileSync); the threads and this thread's own hashing of a chunk do not.
    const read = new Set<string>()
    const readFileSync = fs.readFileSync
    vi.spyOn(fs, 'readFileSync').mockImplementation(((file: fs.PathOrFileDescriptor, ...rest: unknown[]) => {
      if (typeof file === 'string' && file.startsWith(store.root)) read.add(file)
      return (readFileSync as (...args: unknown[]) => unknown)(file, ...rest)
    }) as typeof fs.readFileSync)
    const result = await store.checkPkgFilesIntegrity({ algo: 'sha512', files })
    vi.restoreAllMocks()
    expect(result).toEqual({ passed: false, missing: ['f99.js'], corrupt: ['f7.js', 'f40.js'], removed: ['f7.js', 'f40.js'] })
    expect([...read].sort()).toEqual(['f7.js', 'f40.js'].map(pathOf).sort())
    await store.close()
  })

  it('a file the fast path trusts is neither hashed nor handed to a thread', async () => {
    const toThreads: string[] = []
    const store = await openStore(tempDir(), { threads: 0 })
    const files = await filled(store, 'trusted')
    const { ctx, done } = threadedContext(store.root, { 'verifier:toThreads': ({ path }) => { toThreads.push(path) } })
    const list: FileToCheck[] = [...files.values()].map(info =>
      ({ path: store.filePathFor(info.digest, info.mode), digest: info.digest, size: info.size, checkedAt: Date.now() })
    )
    const verdicts = await checkFiles(ctx, list, {}, { threads: true })
    expect(verdicts.every(v => v.status === 'good' && !v.rehashed)).toBe(true)
    expect(toThreads).toEqual([])
    // --full hashes them all, on the threads.
    const full = await checkFiles(ctx, list, { full: true }, { threads: true })
    expect(full.every(v => v.status === 'good' && v.rehashed)).toBe(true)
    expect(toThreads).toHaveLength(1)
    await done()
    await store.close()
  })
})
