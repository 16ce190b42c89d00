// The names under dirs/ are the contract between ensureDir and the maintenance sweep (`cas verify --fix`): the
// sweep finds a filler's temp folder by its infix and asks the lock of the entry it belongs to whether its filler
// is alive. A dead filler's old temp folder goes; a live filler's (its key lock held) stays, however old.
import fs from 'node:fs'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { dirEntryPaths, isTempDirName, lockFileOfTempDir, tempDirFor } from '../../lib/dir/dirLayout.js'
import { openStore } from '../../lib/index.js'
import { withKeyLock } from '../../lib/lock/keyLock.js'
import { signal } from '../helpers/gate.js'
import { tempDir } from '../helpers/tmp.js'

const TWO_DAYS_MS = 2 * 24 * 3600 * 1000

/** A temp folder of `key`'s entry, with a file in it, as a filler leaves it. */
function oldTempFolder (root: string, key: string): string {
  const { parent, name } = dirEntryPaths(root, key)
  const temp = tempDirFor(parent, name)
  fs.mkdirSync(temp, { recursive: true })
  fs.writeFileSync(path.join(temp, 'half-cloned'), 'x')
  return temp
}

describe('dirs/ names: ensureDir\'s temp folders and locks, as the sweep reads them', () => {
  it('a temp folder names its entry: any temp is recognised, one key\'s only as that key\'s, and leads to its lock', () => {
    const root = tempDir()
    const a = dirEntryPaths(root, 'a')
    const b = dirEntryPaths(root, 'b')
    const temp = path.basename(tempDirFor(a.parent, a.name))
    expect(isTempDirName(temp)).toBe(true)
    expect(isTempDirName(temp, a.name)).toBe(true)
    expect(isTempDirName(temp, b.name)).toBe(false)
    expect(isTempDirName(a.name)).toBe(false)
    expect(isTempDirName(path.basename(a.lockFile))).toBe(false)
    expect(lockFileOfTempDir(path.join(a.parent, temp))).toBe(a.lockFile)
  })

  it('verify --fix removes a dead filler\'s old temp folder and keeps a live filler\'s', async () => {
    // Two days on (an age cannot be set by hand: utimes renews the ctime that the age rule also reads).
    const store = await openStore(tempDir(), { _now: () => Date.now() + TWO_DAYS_MS })
    const dead = oldTempFolder(store.root, 'dead')
    const live = oldTempFolder(store.root, 'live')
    let release!: () => void
    const entered = signal()
    const held = withKeyLock(dirEntryPaths(store.root, 'live').lockFile, 'live', async () => {
      entered.signal()
      await new Promise<void>(resolve => { release = resolve })
    })
    await entered.signalled
    const report = await store.verifyStore({ fix: true })
    const fillDirs = report.staleTemps.filter(t => t.kind === 'fill-dir').map(t => [t.path, t.removed])
    expect(fillDirs.sort()).toEqual([[dead, true], [live, false]].sort())
    expect(fs.existsSync(dead)).toBe(false)
    expect(fs.existsSync(path.join(live, 'half-cloned'))).toBe(true)
    release()
    await held
    await store.close()
  })
})
