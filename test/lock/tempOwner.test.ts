// TempOwner, the record that proves a temp file's writer alive, and tempWriterAlive, the cleaners' question, called
// in the test process: a record is held from hold() to release(), waits while a cleaner judges it, is created with
// its folder, and a record that cannot be opened counts as alive (never remove live work).
import fs from 'node:fs'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { OWNER_SUFFIX } from '../../lib/layout/tempName.js'
import { flockSync, openLockFile, unlockFd } from '../../lib/lock/flock.js'
import { OWNERS_DIR, TempOwner, tempWriterAlive } from '../../lib/lock/tempOwner.js'
import { tempDir } from '../helpers/tmp.js'

/** The owner record `id`, held exclusively by a cleaner judging it (another open file description). */
function heldByCleaner (root: string, id: string): { record: string, cleaner: number } {
  const record = path.join(root, OWNERS_DIR, id + OWNER_SUFFIX)
  fs.mkdirSync(path.dirname(record), { recursive: true })
  const cleaner = openLockFile(record)
  flockSync(cleaner, 'ex')
  return { record, cleaner }
}

const openFds = (): number => fs.readdirSync('/proc/self/fd').length

describe('TempOwner', () => {
  it('is held from hold() to release(), with one descriptor however often hold() is called', async () => {
    const root = tempDir()
    const owner = new TempOwner(root, 'a-1-2-3')
    expect(owner.held).toBe(false)
    const before = openFds()
    await owner.hold()
    await owner.hold()
    expect(owner.held).toBe(true)
    expect(openFds()).toBe(before + 1)
    expect(tempWriterAlive(root, 'a-1-2-3' + OWNER_SUFFIX)).toBe(true)
    owner.release()
    expect(owner.held).toBe(false)
    expect(openFds()).toBe(before)
    expect(tempWriterAlive(root, 'a-1-2-3' + OWNER_SUFFIX)).toBeUndefined() // released, and removed: no record left
  })

  it('release() removes the record only when no other holder of the id has it (two stores of one thread)', async () => {
    const root = tempDir()
    const [a, b] = [new TempOwner(root, 'a-1-2-9'), new TempOwner(root, 'a-1-2-9')]
    await a.hold()
    await b.hold()
    a.release()
    expect(tempWriterAlive(root, 'a-1-2-9' + OWNER_SUFFIX)).toBe(true) // b's temps are still vouched for
    b.release()
    expect(tempWriterAlive(root, 'a-1-2-9' + OWNER_SUFFIX)).toBeUndefined()
  })

  it('creates the store root\'s owners folder, and its parents, on first hold', async () => {
    const root = path.join(tempDir(), 'not', 'yet')
    const owner = new TempOwner(root, 'b-1-2-3')
    await owner.hold()
    expect(fs.existsSync(path.join(root, OWNERS_DIR, 'b-1-2-3' + OWNER_SUFFIX))).toBe(true)
    owner.release()
  })

  it('an owners path that is not a folder is ERR_CAS_FILE_ACCESS, not a retry loop', async () => {
    const root = tempDir()
    fs.writeFileSync(path.join(root, OWNERS_DIR), 'a file')
    await expect(new TempOwner(root, 'c-1-2-3').hold()).rejects.toMatchObject({ code: 'ERR_CAS_FILE_ACCESS' })
  })

  it('waits while a cleaner holds the record exclusively, then holds it', async () => {
    const root = tempDir()
    const { cleaner } = heldByCleaner(root, 'd-1-2-3')
    const owner = new TempOwner(root, 'd-1-2-3')
    let held = false
    const holding = owner.hold().then(() => { held = true })
    for (let i = 0; i < 5; i++) await new Promise(resolve => setImmediate(resolve))
    expect(held).toBe(false)
    unlockFd(cleaner)
    await holding
    expect(owner.held).toBe(true)
    expect(tempWriterAlive(root, 'd-1-2-3' + OWNER_SUFFIX)).toBe(true)
    owner.release()
  })

  it('a record the cleaner removed while this one waited is not held: hold() opens the new one', async () => {
    const root = tempDir()
    const { record, cleaner } = heldByCleaner(root, 'g-1-2-3')
    const owner = new TempOwner(root, 'g-1-2-3')
    const holding = owner.hold()
    for (let i = 0; i < 5; i++) await new Promise(resolve => setImmediate(resolve))
    fs.rmSync(record) // judged dead and removed, then let go
    unlockFd(cleaner)
    await holding
    expect(tempWriterAlive(root, 'g-1-2-3' + OWNER_SUFFIX)).toBe(true) // the record at the path is the held one
    owner.release()
  })
})

describe('tempWriterAlive', () => {
  it('no record: undefined (age decides); a record that cannot be opened: alive (never remove live work)', () => {
    const root = tempDir()
    expect(tempWriterAlive(root, 'e-1-2-3' + OWNER_SUFFIX)).toBeUndefined()
    fs.mkdirSync(path.join(root, OWNERS_DIR, 'f-1-2-3' + OWNER_SUFFIX), { recursive: true }) // EISDIR on open
    expect(tempWriterAlive(root, 'f-1-2-3' + OWNER_SUFFIX)).toBe(true)
    expect(tempWriterAlive(root, 'not a temp name')).toBeUndefined()
  })
})
