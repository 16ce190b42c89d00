// Tasks of one process share one attempt at a package, its failures included. A joiner goes round on its own only
// when the first task's wait for the package's own lock timed out (its patience, not the work's outcome). A timeout
// inside the work (with openStore(dir, { lockTimeoutMs }), a path lock another process holds while the package's
// files are added) is the work's outcome: each joiner gets it, and the tarball is fetched once.
import { afterEach, expect, it } from 'vitest'
import { openStore } from '../../lib/index.js'
import { runFixture, type Child } from '../helpers/child.js'
import { gate, signal } from '../helpers/gate.js'
import { makePackages } from '../helpers/packages.js'
import { tempDir } from '../helpers/tmp.js'

const children: Child[] = []
afterEach(async () => {
  for (const child of children.splice(0)) {
    child.proc.kill('SIGKILL')
    await child.exited
  }
})

it('a path-lock timeout inside the first task\'s work is not retried by its joiner: the package is fetched once', async () => {
  const [pkg] = makePackages(1, 'join-pathlock-timeout')
  const dir = tempDir()
  const store = await openStore(dir, { lockTimeoutMs: 200 })
  const holder = runFixture('holdStripes.ts', [dir]) // another process holds every path lock
  children.push(holder)
  await holder.line(l => l === 'LOCKED')

  let fetches = 0
  const firstFetch = gate()
  const tarball = async (): Promise<Buffer> => {
    if (++fetches === 1) await firstFetch.wait() // the first task is in its work: let the joiner join first
    return pkg!.tgz
  }
  const leader = store.ensurePackage({ integrity: pkg!.integrity, pkgId: pkg!.pkgId, tarball })
  const leaderOutcome = leader.then(() => 'resolved', (err: { code?: string }) => err.code)
  await firstFetch.reached
  const joined = signal()
  const joiner = store.ensurePackage({
    integrity: pkg!.integrity, pkgId: pkg!.pkgId, tarball, onWait: () => { joined.signal() },
  })
  const joinerOutcome = joiner.then(() => 'resolved', (err: { code?: string }) => err.code)
  await joined.signalled // joined the first task's flight (its onWait names this process as the holder)
  firstFetch.open()

  expect(await leaderOutcome).toBe('ERR_CAS_LOCK_TIMEOUT') // the path lock's timeout, in the work itself
  expect(await joinerOutcome).toBe('ERR_CAS_LOCK_TIMEOUT')
  expect(fetches).toBe(1) // not 2: the joiner does not fetch and add the package again after the work failed
  await store.close()
}, 20_000)
