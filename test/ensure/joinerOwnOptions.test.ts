// A task that joins another task's attempt at a package (singleFlight) is held to its own options, not the first
// task's: its own timeoutMs (a first task whose lock wait timed out leaves the joiner to try again itself), and,
// with verify, never an index whose files fail the check (the first task's "there was no index before I waited,
// so one found now is trusted" is no rule for a joiner that saw the index fail). The other holder of the package's
// lock is a second descriptor on the lock file, as in recheckAfterWait.test.ts.
import fs from 'node:fs'
import { describe, expect, it } from 'vitest'
import { openStore, packageIndexKey } from '../../lib/index.js'
import { packageLockFile } from '../../lib/ensure/packageLock.js'
import { withKeyLock } from '../../lib/lock/keyLock.js'
import { signal } from '../helpers/gate.js'
import { makePackages } from '../helpers/packages.js'
import { tempDir } from '../helpers/tmp.js'

/** Holds `key`'s package lock as another process would, until `release` is called. */
async function holdPackageLock (root: string, key: string): Promise<{ release: () => void, held: Promise<void> }> {
  let release!: () => void
  const entered = signal()
  const held = withKeyLock(packageLockFile(root, key), key, async () => {
    entered.signal()
    await new Promise<void>(resolve => { release = resolve })
  })
  await entered.signalled
  return { release, held }
}

describe('a joining task is held to its own options, not the first task\'s', () => {
  it('a joiner with no timeoutMs outlives the first task\'s ERR_CAS_LOCK_TIMEOUT, and gets the package once the lock is free', async () => {
    const [pkg] = makePackages(1, 'audit-join-timeout')
    const store = await openStore(tempDir())
    const key = packageIndexKey(pkg!.integrity, pkg!.pkgId)
    const lock = await holdPackageLock(store.root, key)
    const tarball = async (): Promise<Buffer> => pkg!.tgz

    const leaderWaiting = signal()
    const leader = store.ensurePackage({
      integrity: pkg!.integrity, pkgId: pkg!.pkgId, tarball, timeoutMs: 300, onWait: () => { leaderWaiting.signal() },
    })
    leader.catch(() => {})
    await leaderWaiting.signalled // the leader's flight is under way, waiting for the lock
    const joined = signal()
    // No timeoutMs: this caller asked to wait for the lock as long as it takes.
    const joiner = store.ensurePackage({
      integrity: pkg!.integrity, pkgId: pkg!.pkgId, tarball, onWait: () => { joined.signal() },
    })
    const joinerOutcome = joiner.then(r => ({ ok: r.fetched }), (err: { code?: string }) => ({ err: err.code }))
    await joined.signalled

    await expect(leader).rejects.toMatchObject({ code: 'ERR_CAS_LOCK_TIMEOUT' }) // the leader's own timeout: fine
    lock.release() // the lock is free now: a caller still waiting for it would get it and add the package
    await lock.held
    expect(await joinerOutcome).toEqual({ ok: true })
    await store.close()
  })

  it('a joiner that goes on after the first task timed out waits only what is left of its own timeoutMs', async () => {
    const [pkg] = makePackages(1, 'join-timeout-left')
    const store = await openStore(tempDir())
    const key = packageIndexKey(pkg!.integrity, pkg!.pkgId)
    const lock = await holdPackageLock(store.root, key) // held throughout: every wait here ends in a timeout
    const tarball = async (): Promise<Buffer> => pkg!.tgz
    const leaderWaiting = signal()
    const leader = store.ensurePackage({
      integrity: pkg!.integrity, pkgId: pkg!.pkgId, tarball, timeoutMs: 300, onWait: () => { leaderWaiting.signal() },
    })
    const leaderDone = leader.then(() => performance.now(), () => performance.now())
    await leaderWaiting.signalled
    // 20 ms more patience than the first task: once it gives up at 300 ms, ~20 ms are left, not another 320.
    const joiner = store.ensurePackage({ integrity: pkg!.integrity, pkgId: pkg!.pkgId, tarball, timeoutMs: 320 })
    const joinerDone = joiner.then(() => performance.now(), () => performance.now())
    await expect(joiner).rejects.toMatchObject({ code: 'ERR_CAS_LOCK_TIMEOUT' })
    expect(await joinerDone - await leaderDone).toBeLessThan(200)
    lock.release()
    await lock.held
    await store.close()
  })

  it.each([
    ['it fetches the package', false],
    ['its own check passes once the file is back, and it fetches nothing', true],
  ] as const)('a joiner that saw the index fail the check is not handed it unchecked: %s', async (_what, restored) => {
    const [pkg] = makePackages(1, 'audit-join-verify')
    const store = await openStore(tempDir())
    const key = packageIndexKey(pkg!.integrity, pkg!.pkgId)
    const lock = await holdPackageLock(store.root, key)
    let fetches = 0
    const tarball = async (): Promise<Buffer> => { fetches++; return pkg!.tgz }

    // The leader finds no index, and waits for the lock.
    const leaderWaiting = signal()
    const leader = store.ensurePackage({
      integrity: pkg!.integrity, pkgId: pkg!.pkgId, tarball, onWait: () => { leaderWaiting.signal() },
    })
    await leaderWaiting.signalled
    // Meanwhile the holder writes the index, and one of its files is lost (a verify --fix removed it as corrupt).
    const index = await store.addFilesFromTarball(pkg!.tgz)
    await store.writePackageIndex(key, { ...index, tarIntegrity: pkg!.integrity })
    const data = index.files.get('data.bin')!
    const bytes = fs.readFileSync(store.filePathFor(data.digest, data.mode))
    fs.rmSync(store.filePathFor(data.digest, data.mode))

    // The joiner (verify: true, the default) checks the index itself, sees it fail, and joins the leader's flight.
    const joined = signal()
    const joiner = store.ensurePackage({
      integrity: pkg!.integrity, pkgId: pkg!.pkgId, tarball, onWait: () => { joined.signal() },
    })
    await joined.signalled
    if (restored) await store.ensureFile(bytes, { mode: data.mode }) // a writer puts it back
    lock.release()
    await lock.held
    await leader
    const result = await joiner

    // README: "an index whose files fail the check is fetched again": data.bin is in the store again.
    const got = result.index.files.get('data.bin')!
    const present = fs.existsSync(store.filePathFor(got.digest, got.mode))
    expect({ fetches, present, fetched: result.fetched })
      .toEqual({ fetches: restored ? 0 : 1, present: true, fetched: !restored })
    await store.close()
  })
})
