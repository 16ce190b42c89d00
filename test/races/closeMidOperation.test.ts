// A store closed while one of its operations was still running released its owner record at once. That record is
// what tells a cleaner in another process (`cas verify --fix`, `cas prune`) that the store's temp files, and its
// imports' folders in node_modules, belong to a live writer; without it they were protected by their age alone, so
// a cleaner with a short grace removed a live import's folder and a live writer's temp file under them. close()
// now refuses new calls at once and waits for the operations in flight before it lets anything go. Each side of
// the race is parked at a pause point (an import) or inside its input stream (a writer); the cleaner is a second
// store on the same folder, with its own owner record and lock descriptors, as another process would be.
import crypto from 'node:crypto'
import fs from 'node:fs'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { openStore, packageIndexKey, type PackageIndex, type Store } from '../../lib/index.js'
import type { PausePoint } from '../../lib/util/hooks.js'
import { sha512Hex } from '../helpers/content.js'
import { gate, type Gate } from '../helpers/gate.js'
import { startNginx } from '../helpers/nginx.js'
import { makePackages } from '../helpers/packages.js'
import { startServer } from '../helpers/server.js'
import { rawIndexDb } from '../helpers/sqlite.js'
import { expectWhole, packageEntries, strayEntries, storeAndNodeModules } from '../helpers/importPkg.js'
import { tempDir } from '../helpers/tmp.js'

/** Settles `promise` into a flag, so a test can say it has not settled yet without waiting for it. */
function watch (promise: Promise<unknown>): { settled: () => boolean } {
  let settled = false
  promise.then(() => { settled = true }, () => { settled = true })
  return { settled: () => settled }
}

/** A cleaner's pass with no grace, from a second store on the same folder; returns what it removed. */
async function cleanWithNoGrace (storeDir: string): Promise<string[]> {
  const cleaner = await openStore(storeDir)
  try {
    const report = await cleaner.verifyStore({ fix: true, graceMs: 0 })
    return report.staleTemps.filter(t => t.removed).map(t => `${t.kind} ${path.basename(t.path)}`)
  } finally {
    await cleaner.close()
  }
}

describe('close() while an operation is in flight', () => {
  it('an import parked mid-way keeps its folder through a cleaner, finishes, and only then does close() resolve', async () => {
    const { storeDir, nm, index } = await storeAndNodeModules()
    const parked = gate()
    const store = await openStore(storeDir, { _hooks: { 'import:staged': async () => { await parked.wait() } } })
    const importing = store.importPackage(index, path.join(nm, 'p'))
    await parked.reached
    const [stage] = strayEntries(nm)
    const closing = store.close()
    const closed = watch(closing)
    // New calls are refused at once, while the one in flight goes on.
    await expect(store.importPackage(index, path.join(nm, 'q'))).rejects.toMatchObject({ code: 'ERR_CAS_CLOSED' })

    expect(await cleanWithNoGrace(storeDir)).toEqual([])
    expect(strayEntries(nm)).toEqual([stage])
    expect(closed.settled()).toBe(false)

    parked.open()
    expect(await importing).toEqual({ method: expect.any(String), imported: true })
    await closing
    expect(strayEntries(nm)).toEqual(['p'])
    expectWhole(path.join(nm, 'p'), packageEntries('p', 10))
    // Closed for real now: the journal is gone, and so is the owner record (close() removes it).
    expect(fs.readdirSync(path.join(store.root, 'tmp')).filter(n => n.endsWith('.cas-imports'))).toEqual([])
    expect((await cleanWithNoGrace(storeDir)).filter(t => t.startsWith('owner-record'))).toHaveLength(0)
  })

  it('a writer whose stream is still coming keeps its temp file through a cleaner, and its file lands', async () => {
    const storeDir = path.join(tempDir(), 'store')
    const store = await openStore(storeDir, { threads: 0 })
    const halfway = gate()
    const head = crypto.randomBytes(64 * 1024)
    const tail = crypto.randomBytes(64 * 1024)
    async function * body (): AsyncGenerator<Buffer> {
      yield head
      await halfway.wait() // the temp file exists and holds the head
      yield tail
    }
    const writing = store.ensureFile(body(), { mode: 0o644 })
    await halfway.reached
    const temps = fs.readdirSync(path.join(store.root, 'tmp'))
    expect(temps.filter(n => !n.endsWith('.cas-imports'))).toHaveLength(1)
    const closing = store.close()
    const closed = watch(closing)

    expect(await cleanWithNoGrace(storeDir)).toEqual([])
    expect(closed.settled()).toBe(false)

    halfway.open()
    const added = await writing
    await closing
    const whole = Buffer.concat([head, tail])
    expect(added.digest).toBe(crypto.createHash('sha512').update(whole).digest('hex'))
    expect(fs.readFileSync(added.filePath).equals(whole)).toBe(true)
  })

  it('a second close() resolves only once the first one has', async () => {
    const store = await openStore(path.join(tempDir(), 'store'), { threads: 0 })
    await store.ensureFile(Buffer.from('x'), { mode: 0o644 })
    const first = watch(store.close())
    await store.close() // before: returned at once, while the first close was still under way
    expect(first.settled()).toBe(true)
    await expect(store.ensureFile(Buffer.from('y'), { mode: 0o644 })).rejects.toMatchObject({ code: 'ERR_CAS_CLOSED' })
  })

  // Every verb that writes, imports, verifies or removes is waited for, each parked at its own pause point (or in
  // the installer's callback). Before close() waited, each of these closed at once under the parked call.
  const parkedIn = (hook: PausePoint, run: (store: Store, dir: string) => Promise<unknown>): Verb => ({ hook, run })
  const verbs: Record<string, Verb> = {
    ensureFile: parkedIn('writer:tempWritten', async store => await store.ensureFile(Buffer.from('a file'), { mode: 0o644 })),
    addFilesFromDir: parkedIn('writer:tempWritten', async (store, dir) => {
      fs.mkdirSync(path.join(dir, 'pkg'))
      fs.writeFileSync(path.join(dir, 'pkg', 'index.js'), 'module.exports = 1\n')
      return await store.addFilesFromDir(path.join(dir, 'pkg'))
    }),
    addFilesFromTarball: parkedIn('writer:tempWritten', async store => await store.addFilesFromTarball(makePackages(1, 'tgz')[0]!.tgz)),
    checkPkgFilesIntegrity: parkedIn('verifier:suspect', async store => {
      const { index } = await storedThenCorrupted(store)
      return await store.checkPkgFilesIntegrity(index)
    }),
    verifyStore: parkedIn('verifier:suspect', async store => {
      await store.writePackageIndex(pkgKey('corrupted'), (await storedThenCorrupted(store)).index)
      return await store.verifyStore({ jobs: 1 })
    }),
    pruneStore: parkedIn('prune:candidate', async store => {
      await store.ensureFile(Buffer.from('no index names me'), { mode: 0o644 })
      return await store.pruneStore({ graceMs: -60_000, allowNoIndexes: true }) // a file just written is old
    }),
    importPackage: parkedIn('import:staged', async (store, dir) => {
      const { index } = await store.ensurePackage({ ...pkgOf('imported'), tarball: async () => makePackages(1, 'imported')[0]!.tgz })
      fs.mkdirSync(path.join(dir, 'node_modules'))
      return await store.importPackage(index, path.join(dir, 'node_modules', 'imported'))
    }),
  }

  for (const [name, verb] of Object.entries(verbs)) {
    it(`${name}, parked at ${verb.hook}: close() resolves only after the call has`, async () => {
      const dir = tempDir()
      const parked = gate()
      const store = await openStore(path.join(dir, 'store'), { threads: 0, _hooks: { [verb.hook]: parked.wait } })
      await expectCloseWaitsFor(store, verb.run(store, dir), parked)
    })
  }

  it('fetchFile, parked at writer:locked: close() resolves only after the call has', async () => {
    const body = Buffer.from('a downloaded file\n')
    const server = await startServer(body)
    try {
      const parked = gate()
      const store = await openStore(path.join(tempDir(), 'store'), { threads: 0, _hooks: { 'writer:locked': parked.wait } })
      await expectCloseWaitsFor(store, store.fetchFile(server.url, { digest: sha512Hex(body) }), parked)
    } finally {
      await server.close()
    }
  })

  it('storeStats (no pause point: close() is called in the same tick): close() resolves only after the call has', async () => {
    const store = await openStore(path.join(tempDir(), 'store'), { threads: 0 })
    for (let i = 0; i < 20; i++) await store.ensureFile(Buffer.from(`file ${i}`), { mode: 0o644 })
    const stats = watch(store.storeStats())
    await store.close()
    expect(stats.settled()).toBe(true)
  })

  it('pushToRemote and pullFromRemote, parked mid-transfer: close() resolves only after the call has', async () => {
    const server = await startNginx()
    try {
      const dir = tempDir()
      const [pkg] = makePackages(1, 'remote')
      const key = packageIndexKey(pkg!.integrity, pkg!.pkgId)
      const pushed = gate()
      const pusher = await openStore(path.join(dir, 'a'), { threads: 0, remote: server.url, _hooks: { 'remote:filesUploaded': pushed.wait } })
      await pusher.writePackageIndex(key, await pusher.addFilesFromTarball(pkg!.tgz))
      await expectCloseWaitsFor(pusher, pusher.pushToRemote(), pushed)
      const pulled = gate()
      const puller = await openStore(path.join(dir, 'b'), { threads: 0, remote: server.url, _hooks: { 'writer:tempWritten': pulled.wait } })
      await expectCloseWaitsFor(puller, puller.pullFromRemote(key), pulled)
      const check = await openStore(path.join(dir, 'b'))
      expect(await check.readPackageIndex(key)).toBeDefined()
      await check.close()
    } finally {
      await server.stop()
    }
  })

  it('ensurePackage, parked in the installer\'s fetcher: close() resolves only after the call has', async () => {
    const store = await openStore(path.join(tempDir(), 'store'), { threads: 0 })
    const parked = gate()
    const [pkg] = makePackages(1, 'fetched')
    const running = store.ensurePackage({ ...pkgOf('fetched'), tarball: async () => { await parked.wait(); return pkg!.tgz } })
    await expectCloseWaitsFor(store, running, parked)
  })

  it('ensureDir, parked in its fill: close() resolves only after the call has', async () => {
    const store = await openStore(path.join(tempDir(), 'store'), { threads: 0 })
    const parked = gate()
    const running = store.ensureDir('a-clone', async tmp => {
      await parked.wait()
      fs.writeFileSync(path.join(tmp, 'HEAD'), 'ref: refs/heads/main\n')
    })
    await expectCloseWaitsFor(store, running, parked)
  })
})

describe('close() while a call only waits for a lock another process holds', () => {
  // Waiting for a lock is not work in flight: close() would otherwise wait as long as the other holder takes (a
  // clone, a download, a stuck process). The wait gives up with ERR_CAS_CLOSED as soon as the store starts to close;
  // the holder is a second store on the same folder (its own descriptors, so flock excludes it as another process).
  it('a writer waiting for a path lock another store holds is not given up on: close() resolves once it has landed', async () => {
    // A path lock is held for a few syscalls, and the call waiting for one may be deep in work it must finish (an
    // add holding its package's lock): such waits go on.
    const storeDir = path.join(tempDir(), 'store')
    const holderParked = gate()
    const holder = await openStore(storeDir, { threads: 0, _hooks: { 'writer:locked': holderParked.wait } })
    const contended = gate()
    const waiter = await openStore(storeDir, { threads: 0, _hooks: { 'lock:contended': async () => { contended.open() } } })
    const data = crypto.randomBytes(1000)
    const holding = holder.ensureFile(data, { mode: 0o644 })
    await holderParked.reached
    const waiting = waiter.ensureFile(data, { mode: 0o644 })
    await contended.wait() // the waiter found the stripe held and is polling
    const { closing } = await closeStillPending(waiter)
    holderParked.open()
    await holding
    expect(fs.readFileSync((await waiting).filePath).equals(data)).toBe(true)
    await closing
    await holder.close()
  })

  it('a wait behind the same store\'s own call goes on: both ensureDir calls of one key succeed', async () => {
    const store = await openStore(path.join(tempDir(), 'store'), { threads: 0 })
    const filling = gate()
    const fill = async (dir: string): Promise<void> => { fs.writeFileSync(path.join(dir, 'HEAD'), 'ref\n') }
    const first = store.ensureDir('a-clone', async dir => { await filling.wait(); await fill(dir) })
    await filling.reached
    // onWait is called at the first failed try, then about once a second, each time after the check that gives up.
    let reports = 0
    const toldAgain = gate()
    const second = store.ensureDir('a-clone', fill, { onWait: () => { if (++reports === 2) toldAgain.open() } })
    const secondOutcome = watch(second)
    await turns(1)
    expect(reports).toBe(1) // the second call waits for the first one's lock
    const closing = store.close()
    await Promise.race([toldAgain.wait(), second.catch(() => {})]) // it polled again since close() began
    expect(secondOutcome.settled()).toBe(false)
    filling.open()
    expect(await second).toBe(await first)
    await closing
  })

  it('ensurePackage waiting for the package another process is adding gives up, and close() resolves', async () => {
    const storeDir = path.join(tempDir(), 'store')
    const [pkg] = makePackages(1, 'contended')
    const fetching = gate()
    const holder = await openStore(storeDir, { threads: 0 })
    const adding = holder.ensurePackage({ ...pkgOf('contended'), tarball: async () => { await fetching.wait(); return pkg!.tgz } })
    await fetching.reached
    const waiter = await openStore(storeDir, { threads: 0 })
    const told = gate()
    const waiting = waiter.ensurePackage({ ...pkgOf('contended'), tarball: async () => pkg!.tgz, onWait: () => { told.open() } })
    waiting.catch(() => {})
    await told.wait()
    await waiter.close()
    await expect(waiting).rejects.toMatchObject({ code: 'ERR_CAS_CLOSED' })
    fetching.open()
    expect((await adding).fetched).toBe(true)
    await holder.close()
  })

  it('ensureDir waiting for the entry another process is filling gives up, and close() resolves', async () => {
    const storeDir = path.join(tempDir(), 'store')
    const filling = gate()
    const holder = await openStore(storeDir, { threads: 0 })
    const fill = async (dir: string): Promise<void> => { fs.writeFileSync(path.join(dir, 'HEAD'), 'ref\n') }
    const held = holder.ensureDir('a-clone', async dir => { await filling.wait(); await fill(dir) })
    await filling.reached
    const waiter = await openStore(storeDir, { threads: 0 })
    const told = gate()
    const waiting = waiter.ensureDir('a-clone', fill, { onWait: () => { told.open() } })
    waiting.catch(() => {})
    await told.wait()
    await waiter.close()
    await expect(waiting).rejects.toMatchObject({ code: 'ERR_CAS_CLOSED' })
    filling.open()
    expect(fs.readFileSync(path.join(await held, 'HEAD'), 'utf8')).toBe('ref\n')
    await holder.close()
  })

  it('a key this store held earlier counts as its own no longer: a later wait for another store\'s hold gives up', async () => {
    const storeDir = path.join(tempDir(), 'store')
    const waiter = await openStore(storeDir, { threads: 0 })
    await expect(waiter.ensureDir('a-clone', () => { throw new Error('the clone failed') })).rejects.toThrow('the clone failed')
    const filling = gate()
    const holder = await openStore(storeDir, { threads: 0 })
    const fill = async (dir: string): Promise<void> => { fs.writeFileSync(path.join(dir, 'HEAD'), 'ref\n') }
    const held = holder.ensureDir('a-clone', async dir => { await filling.wait(); await fill(dir) })
    await filling.reached
    const told = gate()
    const waiting = waiter.ensureDir('a-clone', fill, { onWait: () => { told.open() } })
    waiting.catch(() => {})
    await told.wait()
    await waiter.close()
    await expect(waiting).rejects.toMatchObject({ code: 'ERR_CAS_CLOSED' })
    filling.open()
    await held
    await holder.close()
  })

  it('fetchFile waiting for the download another process is making gives up, and close() resolves', async () => {
    const body = Buffer.from('a file two processes want\n')
    const server = await startServer(body)
    try {
      const storeDir = path.join(tempDir(), 'store')
      const renaming = gate()
      const holder = await openStore(storeDir, { threads: 0, _hooks: { 'writer:locked': renaming.wait } })
      const held = holder.fetchFile(server.url, { digest: sha512Hex(body) })
      await renaming.reached // downloaded, its download lock held, about to rename
      const waiter = await openStore(storeDir, { threads: 0 })
      const told = gate()
      const waiting = waiter.fetchFile(server.url, { digest: sha512Hex(body), onWait: () => { told.open() } })
      waiting.catch(() => {})
      await told.wait()
      await waiter.close()
      await expect(waiting).rejects.toMatchObject({ code: 'ERR_CAS_CLOSED' })
      renaming.open()
      expect(fs.readFileSync((await held).filePath).equals(body)).toBe(true)
      await holder.close()
    } finally {
      await server.close()
    }
  })
})

describe('a verb is over only when all of its work is', () => {
  it('verifyStore: after one job fails no job takes a package, and the verb waits for the job parked under its path lock', async () => {
    const { storeDir, a, b, c } = await threeCorruptPackages()
    const bLocked = gate()
    const verifier = await openStore(storeDir, {
      threads: 0,
      _hooks: {
        'verifier:suspect': async ({ path: p }) => { if (p === a.filePath) throw new Error('job A failed') },
        'verifier:locked': async ({ path: p }) => { if (p === b.filePath) await bLocked.wait() },
      },
    })
    const verifying = verifier.verifyStore({ fix: true, graceMs: 0, jobs: 2 })
    const over = watch(verifying)
    await bLocked.reached
    await turns(5)
    expect(over.settled()).toBe(false) // job A failed, but job B holds its lock and is about to remove
    bLocked.open()
    await expect(verifying).rejects.toThrow('job A failed')
    expect(fs.existsSync(b.filePath)).toBe(false) // B's removal was over before the verb was
    expect(fs.existsSync(c.filePath)).toBe(true) // and no job took a package after the failure
    await verifier.close()
  })

  it('verifyStore: a job waiting for its next package when another job fails leaves that package alone', async () => {
    const { storeDir, b, c } = await threeCorruptPackages()
    const bParked = gate()
    const verifier = await openStore(storeDir, {
      threads: 0,
      _hooks: { 'verifier:suspect': async ({ path: p }) => { if (p === b.filePath) { await bParked.wait(); throw new Error('job B failed') } } },
    })
    let opened = false
    const verifying = verifier.verifyStore({
      fix: true,
      graceMs: 0,
      jobs: 2,
      onProgress: ({ packagesDone }) => {
        if (packagesDone !== 1 || opened) return
        // Job 1 has just finished package a: its next turn yields to the event loop first (a scan yields every
        // 50 ms, so this callback makes that turn due), and job 2 fails while it does.
        opened = true
        const until = Date.now() + 60
        while (Date.now() < until) { /* make the yield due */ }
        bParked.open()
      },
    })
    await expect(verifying).rejects.toThrow('job B failed')
    expect(opened).toBe(true)
    expect(fs.existsSync(c.filePath)).toBe(true)
    await verifier.close()
  })

  // Never-checked files go to hashing (two chunks to the store's one thread); files checked a moment ago are
  // trusted by a stat. The callback throws on the first verdict: one of the files hashed here after the stat pass,
  // or, with trusted files after the hashed ones, a verdict of the stat pass itself, while the thread still hashes.
  // That the call waits for the thread's answers before it fails is pinned in test/verify/checkFilesThreads.test.ts
  // (a held pool); here, the whole verb with real threads.
  for (const [layout, trusted] of [['all never checked', 0], ['never checked, then trusted', 300]] as const) {
    it(`verifyStore with threads (${layout}): a progress callback that throws fails the verb, and nothing of it runs after`, async () => {
      const storeDir = path.join(tempDir(), 'store')
      const setup = await openStore(storeDir, { threads: 0 })
      const files = new Map<string, { digest: string, mode: number, size: number, checkedAt: number }>()
      for (let i = 0; i < 600; i++) {
        const added = await setup.ensureFile(Buffer.from(`file ${i}\n`.repeat(20)), { mode: 0o644 })
        const checkedAt = i >= 600 - trusted ? added.checkedAt : 0
        files.set(`f${i}.txt`, { digest: added.digest, mode: 0o644, size: added.size, checkedAt })
      }
      await setup.writePackageIndex(pkgKey('many'), { algo: 'sha512', files })
      await setup.close()
      const store = await openStore(storeDir, { threads: 1 })
      let calls = 0
      const verifying = store.verifyStore({ jobs: 2, onProgress: () => { calls++; throw new Error('progress failed') } })
      await expect(verifying).rejects.toThrow('progress failed')
      const atRejection = calls
      await store.close()
      expect(calls).toBe(atRejection) // nothing of the verb ran after it was over
    })
  }

  it('verifyStore with threads: a progress callback that throws once, while a thread\'s answer is read, fails the verb', async () => {
    // 512 never-checked files are two chunks, both handed to the store's one thread: every verdict comes from it.
    const storeDir = path.join(tempDir(), 'store')
    const setup = await openStore(storeDir, { threads: 0 })
    const files = new Map<string, { digest: string, mode: number, size: number, checkedAt: number }>()
    for (let i = 0; i < 512; i++) {
      const added = await setup.ensureFile(Buffer.from(`file ${i}\n`.repeat(20)), { mode: 0o644 })
      files.set(`f${i}.txt`, { digest: added.digest, mode: 0o644, size: added.size, checkedAt: 0 })
    }
    await setup.writePackageIndex(pkgKey('threaded'), { algo: 'sha512', files })
    await setup.close()
    const store = await openStore(storeDir, { threads: 1 })
    let calls = 0
    const onProgress = (): void => { if (++calls === 1) throw new Error('progress failed once') }
    await expect(store.verifyStore({ jobs: 2, onProgress })).rejects.toThrow('progress failed once')
    await store.close()
  })

  it('a package index call retrying on a busy index.db holds close() up; a listing iterated after close says ERR_CAS_CLOSED', async () => {
    const store = await openStore(path.join(tempDir(), 'store'), { threads: 0 })
    const listing = store.listPackageIndexes()
    const db = rawIndexDb(store.root)
    db.run('BEGIN EXCLUSIVE')
    const deleting = store.deletePackageIndex(pkgKey('busy'))
    const closing = store.close()
    const closed = watch(closing)
    await turns(5)
    expect(closed.settled()).toBe(false)
    db.run('COMMIT')
    db.close()
    expect(await deleting).toBe(false)
    await closing
    await expect(listing.next()).rejects.toMatchObject({ code: 'ERR_CAS_CLOSED' })
  })
})

interface Verb {
  hook: PausePoint
  run: (store: Store, dir: string) => Promise<unknown>
}

/** The key fields of test package `name` (see makePackages). */
function pkgOf (name: string): { integrity: string, pkgId: string } {
  const [pkg] = makePackages(1, name)
  return { integrity: pkg!.integrity, pkgId: pkg!.pkgId }
}

/** Stores a file, then changes its bytes in place; returns an index naming it, never checked (`checkedAt` 0). */
async function storedThenCorrupted (store: Store, text = 'the right bytes'): Promise<{ filePath: string, index: PackageIndex }> {
  const added = await store.ensureFile(Buffer.from(text), { mode: 0o644 })
  fs.chmodSync(added.filePath, 0o644)
  fs.writeFileSync(added.filePath, 'the wrong bytes')
  const files = new Map([['f.txt', { digest: added.digest, mode: 0o644, size: added.size, checkedAt: 0 }]])
  return { filePath: added.filePath, index: { algo: 'sha512', files } }
}

/** A package index key of test package `name`. */
function pkgKey (name: string): string {
  const { integrity, pkgId } = pkgOf(name)
  return packageIndexKey(integrity, pkgId)
}

/**
 * `running` is parked at `parked`: close() is called, must not resolve while the call is parked (its own steps
 * take a few ticks; a macrotask turn is past them all), and resolves once the call, let go, has settled.
 */
async function expectCloseWaitsFor (store: Store, running: Promise<unknown>, parked: Gate): Promise<void> {
  const outcome = watch(running)
  await Promise.race([parked.reached, running.then(() => { throw new Error('the call ended without reaching its pause point') })])
  const { closing } = await closeStillPending(store)
  parked.open()
  await running
  expect(outcome.settled()).toBe(true)
  await closing
}

/** Lets the event loop turn `n` times (each a macrotask: past every tick a few awaits take). */
async function turns (n: number): Promise<void> {
  for (let i = 0; i < n; i++) await new Promise(resolve => setImmediate(resolve))
}

/**
 * Calls `store.close()` and checks it has not resolved two turns later (its own steps take a few ticks). The
 * promise comes back in an object: an async function returning it bare would wait for it.
 */
async function closeStillPending (store: Store): Promise<{ closing: Promise<void> }> {
  const closing = store.close()
  const closed = watch(closing)
  await turns(2)
  expect(closed.settled()).toBe(false)
  return { closing }
}

/** A store (closed again) with packages a, b and c, listed in that order, each naming one corrupt file. */
async function threeCorruptPackages (): Promise<{ storeDir: string } & Record<'a' | 'b' | 'c', { filePath: string }>> {
  const storeDir = path.join(tempDir(), 'store')
  const setup = await openStore(storeDir, { threads: 0 })
  const stored = { a: await storedThenCorrupted(setup, 'file A'), b: await storedThenCorrupted(setup, 'file B'), c: await storedThenCorrupted(setup, 'file C') }
  for (const [name, { index }] of Object.entries(stored)) {
    await setup.writePackageIndex(`sha512-${name.toUpperCase()}${'A'.repeat(85)}==\t${name}@1.0.0`, index)
  }
  await setup.close()
  return { storeDir, ...stored }
}
