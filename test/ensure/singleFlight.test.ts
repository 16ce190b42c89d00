// Single flight among the tasks of one process: a task asking for a package another task is adding joins that
// attempt (its outcome, its holder in onWait reports, its own timeoutMs) instead of queueing on the lock file.
// The first task's fetcher (the installer's own) is the pause point: it waits on a gate the test opens.
import { describe, expect, it } from 'vitest'
import { openStore, type Store, type WaitInfo } from '../../lib/index.js'
import { gate, signal } from '../helpers/gate.js'
import { makePackages, type TestPackage } from '../helpers/packages.js'
import { tempDir } from '../helpers/tmp.js'

/** A fetcher that counts its calls and answers (the tarball, or `failure`) once `open` is called. */
function gatedFetcher (pkg: TestPackage, failure?: Error): {
  fetch: () => Promise<Buffer>, calls: () => number, entered: Promise<void>, open: () => void
} {
  const g = gate()
  let calls = 0
  return {
    fetch: async () => {
      calls++
      await g.wait()
      if (failure !== undefined) throw failure
      return pkg.tgz
    },
    calls: () => calls,
    entered: g.reached,
    open: g.open,
  }
}

/**
 * Starts the first task and returns once its fetcher is running (so the flight is under way). Its promise comes
 * back in an object: an async function returning it bare would wait for it.
 */
async function firstTask (
  store: Store, pkg: TestPackage, fetcher: ReturnType<typeof gatedFetcher>,
): Promise<{ first: Promise<unknown> }> {
  const first = store.ensurePackage({ integrity: pkg.integrity, pkgId: pkg.pkgId, tarball: fetcher.fetch })
  first.catch(() => {}) // awaited by the test; never an unhandled rejection meanwhile
  await fetcher.entered
  return { first }
}

describe('ensurePackage: tasks of one process share one attempt', () => {
  it('a joining task gets the first task\'s failure as it was thrown, and the fetcher runs once', async () => {
    const [pkg] = makePackages(1, 'join-fail')
    const mine = new Error('registry answered 503')
    const fetcher = gatedFetcher(pkg!, mine)
    const store = await openStore(tempDir())
    const { first } = await firstTask(store, pkg!, fetcher)
    const waiting = signal()
    const second = store.ensurePackage({
      integrity: pkg!.integrity, pkgId: pkg!.pkgId, tarball: fetcher.fetch, onWait: () => { waiting.signal() },
    })
    second.catch(() => {})
    await waiting.signalled // the second task is waiting for the first
    fetcher.open()
    await expect(first).rejects.toBe(mine)
    await expect(second).rejects.toBe(mine)
    expect(fetcher.calls()).toBe(1)
    await store.close()
  })

  it('a joining task\'s onWait names this process as the holder, with consistent times; it then gets the index', async () => {
    const [pkg] = makePackages(1, 'join-wait')
    const fetcher = gatedFetcher(pkg!)
    const store = await openStore(tempDir())
    const before = Date.now()
    const { first } = await firstTask(store, pkg!, fetcher)
    const waits: WaitInfo[] = []
    const reported = signal()
    const second = store.ensurePackage({
      integrity: pkg!.integrity,
      pkgId: pkg!.pkgId,
      tarball: fetcher.fetch,
      onWait: info => {
        waits.push(info)
        reported.signal()
      },
    })
    await reported.signalled
    const elapsed = Date.now() - before
    expect(waits[0]).toMatchObject({ key: `${pkg!.integrity}\t${pkg!.pkgId}`, holder: { pid: process.pid } })
    const { holder, heldForMs, waitedMs } = waits[0]!
    expect(holder!.since).toBeGreaterThanOrEqual(before)
    expect(waitedMs).toBeGreaterThanOrEqual(0)
    expect(heldForMs).toBeGreaterThanOrEqual(waitedMs)
    expect(heldForMs).toBeLessThanOrEqual(elapsed)
    fetcher.open()
    await expect(first).resolves.toMatchObject({ fetched: true })
    await expect(second).resolves.toMatchObject({ fetched: false })
    expect(fetcher.calls()).toBe(1)
    await store.close()
  })

  it('a joining task\'s timeoutMs ends its own wait with ERR_CAS_LOCK_TIMEOUT naming this process; the first goes on', async () => {
    const [pkg] = makePackages(1, 'join-timeout')
    const fetcher = gatedFetcher(pkg!)
    const store = await openStore(tempDir())
    const { first } = await firstTask(store, pkg!, fetcher)
    const asked = { integrity: pkg!.integrity, pkgId: pkg!.pkgId, tarball: fetcher.fetch, timeoutMs: 50 }
    const err = await store.ensurePackage(asked)
      .then(() => undefined, (e: unknown) => e as { code: string, holder?: { pid: number }, message: string })
    expect(err).toMatchObject({ code: 'ERR_CAS_LOCK_TIMEOUT', holder: { pid: process.pid } })
    // The wait it reports is its own (tens of ms, "0 s" or a few), not a clock reading.
    expect(err!.message).toMatch(/after \d{1,3} s/)
    fetcher.open()
    await expect(first).resolves.toMatchObject({ fetched: true })
    expect(fetcher.calls()).toBe(1)
    await store.close()
  })

  it('a joining task with a timeoutMs far off waits, reporting, and gets the index when the first task finishes', async () => {
    const [pkg] = makePackages(1, 'join-long')
    const fetcher = gatedFetcher(pkg!)
    const store = await openStore(tempDir())
    const { first } = await firstTask(store, pkg!, fetcher)
    const reported = signal()
    const second = store.ensurePackage({
      integrity: pkg!.integrity,
      pkgId: pkg!.pkgId,
      tarball: fetcher.fetch,
      timeoutMs: 600_000,
      onWait: () => { reported.signal() },
    })
    // Reported as waiting, not failed: a timeout judged wrongly would reject before the first report.
    await Promise.race([reported.signalled, second])
    fetcher.open()
    await expect(first).resolves.toMatchObject({ fetched: true })
    await expect(second).resolves.toMatchObject({ fetched: false })
    expect(fetcher.calls()).toBe(1)
    await store.close()
  })
})
