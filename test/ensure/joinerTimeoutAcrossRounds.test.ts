// A joiner keeps its own timeoutMs, counted from its own start, also when it goes round: a joiner that saw the
// index fail, and was handed one the first task trusted unchecked, checks it, sees it fail, and calls singleFlight
// again, then with what is left of its timeout, not the whole of it again.
// Steps: the package lock is held by another holder (a second descriptor, as in joinerOwnOptions.test.ts); the
// joiner's own onWait report at ~1000 ms of its 1500 ms is the cue to let the first task in; the joiner's re-check
// reaches 'verifier:suspect' (the index names a content path that is a folder: 'not-a-file', never removed), where
// the lock is taken by a second holder before the joiner goes round.
import fs from 'node:fs'
import { expect, it } from 'vitest'
import { openStore, packageIndexKey } from '../../lib/index.js'
import { packageLockFile } from '../../lib/ensure/packageLock.js'
import { withKeyLock } from '../../lib/lock/keyLock.js'
import { signal } from '../helpers/gate.js'
import { makePackages } from '../helpers/packages.js'
import { tempDir } from '../helpers/tmp.js'

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

it('a joiner that re-checks and goes round gives up within its own timeoutMs, counted from its own start', async () => {
  const [pkg] = makePackages(1, 'join-timeout-rounds')
  const root = tempDir()
  const key = packageIndexKey(pkg!.integrity, pkg!.pkgId)
  let suspects = 0
  let second: { release: () => void, held: Promise<void> } | undefined
  let storeRoot = ''
  const store = await openStore(root, {
    _hooks: {
      'verifier:suspect': async () => {
        // 1st: the joiner's own first look (before it joins). 2nd: its re-check of the index handed to it.
        if (++suspects === 2) second = await holdPackageLock(storeRoot, key)
      },
    },
  })
  storeRoot = store.root
  const first = await holdPackageLock(store.root, key)
  const tarball = async (): Promise<Buffer> => pkg!.tgz

  // The first task finds no index (so will trust one found after its wait, unchecked) and waits for the lock.
  const leaderWaiting = signal()
  const leader = store.ensurePackage({
    integrity: pkg!.integrity, pkgId: pkg!.pkgId, tarball, onWait: () => { leaderWaiting.signal() },
  })
  await leaderWaiting.signalled
  // The holder writes the index; one of its content paths is a folder (not-a-file: failed, never removed).
  const index = await store.addFilesFromTarball(pkg!.tgz)
  await store.writePackageIndex(key, { ...index, tarIntegrity: pkg!.integrity })
  const data = index.files.get('data.bin')!
  const dataPath = store.filePathFor(data.digest, data.mode)
  fs.rmSync(dataPath)
  fs.mkdirSync(dataPath)

  const TIMEOUT = 1500
  const waited: Array<[number, number]> = [] // [suspects so far, waitedMs] of each report to the joiner
  let timeoutMessage = ''
  const startedAt = performance.now()
  const joiner = store.ensurePackage({
    integrity: pkg!.integrity,
    pkgId: pkg!.pkgId,
    tarball,
    timeoutMs: TIMEOUT,
    onWait: info => {
      waited.push([suspects, info.waitedMs])
      if (info.waitedMs >= 900 && suspects === 1) first.release() // its report at ~1000 ms
    },
  })
  const outcome = await joiner.then(() => 'resolved', (err: { code?: string, message: string }) => {
    timeoutMessage = err.message
    return err.code
  })
  const elapsed = performance.now() - startedAt
  await leader
  second?.release()
  await second?.held
  await first.held

  expect(suspects).toBe(2) // the joiner re-checked the index the first task handed it, and went round
  expect(outcome).toBe('ERR_CAS_LOCK_TIMEOUT')
  // Counted again from zero when it went round, it took ~2,500 ms.
  expect(elapsed).toBeLessThan(TIMEOUT + 400)
  // Its reports count from its own start in both rounds: the wait for the second holder's lock goes on from ~1000 ms
  // (it started over at 0 before), and the error says it waited the whole 1.5 s, not the last ~0.5 s.
  const secondRound = waited.filter(([round]) => round === 2).map(([, ms]) => ms)
  expect(secondRound.length).toBeGreaterThan(0)
  expect(Math.min(...secondRound)).toBeGreaterThanOrEqual(900)
  expect(timeoutMessage).toMatch(/after 2 s/) // 1.5 s, rounded (it said "after 0 s")
  await store.close()
}, 20_000)
