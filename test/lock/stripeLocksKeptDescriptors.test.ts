// The stripe descriptors kept open between locks: unlocked while kept, never trusted once their lock file is
// gone, closed when idle, and given back at once when the process runs out of descriptors.
import { spawnSync } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import { expect, it } from 'vitest'
import { StripeLocks } from '../../lib/lock/stripeLocks.js'
import { runFixture } from '../helpers/child.js'
import { signal } from '../helpers/gate.js'
import { tempDir } from '../helpers/tmp.js'

it('a kept descriptor is unlocked: another open file description (another process) can take the stripe', async () => {
  const dir = tempDir()
  const idleClosed = signal()
  const ours = new StripeLocks(dir, {}, { idleCloseMs: 20, onIdleClosed: idleClosed.signal })
  const theirs = new StripeLocks(dir, {}, { idleCloseMs: 20 })
  await ours.acquire(5)
  expect(theirs.tryAcquireSync(5)).toBe(false)
  ours.release(5)
  expect(ours.openDescriptors).toBe(1) // kept for the next lock
  expect(theirs.tryAcquireSync(5)).toBe(true) // but not locked
  expect(ours.tryAcquireSync(5)).toBe(false)
  theirs.release(5)
  expect(ours.tryAcquireSync(5)).toBe(true) // the kept descriptor is reused
  ours.release(5)
  await idleClosed.signalled // the idle timer gives it back
  expect(ours.openDescriptors).toBe(0)
  ours.close()
  theirs.close()
})

it('a kept descriptor whose lock file was deleted is not reused: the stripe still excludes the new file\'s holders', async () => {
  const dir = tempDir()
  const ours = new StripeLocks(dir, {}, { idleCloseMs: 60_000 })
  const theirs = new StripeLocks(dir, {}, { idleCloseMs: 60_000 })
  await ours.acquire(7)
  ours.release(7)
  fs.rmSync(path.join(dir, '07')) // a user cleaning up locks/ while processes run
  expect(ours.tryAcquireSync(7)).toBe(true) // locks the new 07
  expect(theirs.tryAcquireSync(7)).toBe(false)
  ours.release(7)
  ours.close()
  theirs.close()
})

it('closeIdle() closes every kept descriptor and none in use', async () => {
  const locks = new StripeLocks(tempDir(), {}, { idleCloseMs: 60_000 })
  for (const i of [1, 2, 3]) {
    await locks.acquire(i)
    locks.release(i)
  }
  await locks.acquire(4)
  expect(locks.openDescriptors).toBe(4)
  expect(locks.closeIdle()).toBe(3)
  expect(locks.openDescriptors).toBe(1)
  locks.release(4)
  locks.close()
  expect(locks.openDescriptors).toBe(0)
})

const hasSh = spawnSync('sh', ['-c', 'ulimit -n 64']).status === 0

it.skipIf(!hasSh)('out of descriptors, a new stripe lock gives back the idle ones instead of waiting forever', async () => {
  const child = runFixture('idleStripesEmfile.ts', [tempDir()], {}, ['sh', '-c', 'ulimit -n 64 && exec "$@"', 'sh'])
  const report = JSON.parse(await child.line(l => l.startsWith('{')))
  expect(report).toMatchObject({ exhausted: true, locked: true, error: null })
})
