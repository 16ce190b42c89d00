// From a second read of the locks: two hold() calls that overlap (a store's first write and its first import start
// together) while a cleaner judges the record: each opens its own descriptor, both end up with a shared lock, and
// only the last is kept. The other is never closed: release() (store.close) leaves the record locked, so a cleaner
// still counts this store's temp files and import journal as live work until the process exits, and a descriptor
// leaks.
import fs from 'node:fs'
import path from 'node:path'
import { expect, it } from 'vitest'
import { OWNER_SUFFIX } from '../../lib/layout/tempName.js'
import { flockSync, openLockFile, unlockFd } from '../../lib/lock/flock.js'
import { OWNERS_DIR, TempOwner, tempWriterAlive } from '../../lib/lock/tempOwner.js'
import { tempDir } from '../helpers/tmp.js'

const openFds = (): number => fs.readdirSync('/proc/self/fd').length

it('two overlapping hold() calls while a cleaner judges the record: after release() the record is free', async () => {
  const root = tempDir()
  const id = '11-0-abc'
  const record = path.join(root, OWNERS_DIR, id + OWNER_SUFFIX)
  fs.mkdirSync(path.dirname(record), { recursive: true })
  const cleaner = openLockFile(record)
  flockSync(cleaner, 'ex')
  const before = openFds()
  const owner = new TempOwner(root, id)
  const both = Promise.all([owner.hold(), owner.hold()])
  for (let i = 0; i < 5; i++) await new Promise(resolve => setImmediate(resolve))
  unlockFd(cleaner) // the cleaner found it alive, lets go
  await both
  expect(owner.held).toBe(true)
  owner.release()
  expect(tempWriterAlive(root, id + OWNER_SUFFIX)).toBeUndefined() // released, and removed: no record left
  expect(openFds()).toBe(before - 1) // the cleaner's descriptor closed, none of the owner's left
})
