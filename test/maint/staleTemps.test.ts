// staleTemps and removeTemp in this process: what verify --fix and prune may take as a dead writer's leftover,
// and how each kind is removed. A live writer's temp, a held lock, a fill in progress, a finished directory entry
// and a resumable download must never go.
import fs from 'node:fs'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { openStore } from '../../lib/index.js'
import { withKeyLock } from '../../lib/lock/keyLock.js'
import { removeTemp, staleTemps, type StaleTemp } from '../../lib/maint/staleTemps.js'
import { gate } from '../helpers/gate.js'
import { tempDir } from '../helpers/tmp.js'

const GRACE = 60_000
/** A moment past the grace period of everything written during the test. */
const later = (): number => Date.now() + 2 * GRACE

async function list (root: string, now = later()): Promise<Array<[string, StaleTemp['kind']]>> {
  const out: Array<[string, StaleTemp['kind']]> = []
  for await (const t of staleTemps(root, GRACE, now)) out.push([path.relative(root, t.path), t.kind])
  return out
}

function put (root: string, rel: string, body = 'x'): string {
  const file = path.join(root, rel)
  fs.mkdirSync(path.dirname(file), { recursive: true })
  fs.writeFileSync(file, body)
  return file
}

const tempOf = (file: string, kind: StaleTemp['kind']): StaleTemp => ({ path: file, kind, ageMs: 2 * GRACE, size: 0 })

describe('staleTemps', () => {
  it('lists each kind of leftover, and nothing else in those folders', async () => {
    const root = tempDir()
    put(root, 'tmp/dead.cas-tmp')
    put(root, 'dirs/abc.cas-tmpdir-1-0-1-ff/half-filled')
    put(root, 'dirs/abc.lock')
    put(root, 'dirs/def/a finished entry.txt') // a directory entry: the store's data
    put(root, 'partial/0123.partial', 'half a download') // resumable, but not forever: past the grace it goes
    put(root, `partial/${'ab'.repeat(64)}.1-0-1-ff.cas-tmp`, 'a killed download\'s own file') // the same
    put(root, 'partial/notes.txt') // not a download's
    put(root, 'partial/0123.lock')
    put(root, 'locks/packages/pkg.lock')
    put(root, 'locks/packages/pkg.json')
    put(root, 'owners/1-0-ff.cas-owner')
    put(root, 'owners/notes.txt')
    expect((await list(root)).sort()).toEqual([
      ['dirs/abc.cas-tmpdir-1-0-1-ff', 'fill-dir'],
      ['dirs/abc.lock', 'lock-file'],
      ['locks/packages/pkg.lock', 'lock-file'],
      ['owners/1-0-ff.cas-owner', 'owner-record'],
      ['partial/0123.lock', 'lock-file'],
      ['partial/0123.partial', 'partial-download'],
      [`partial/${'ab'.repeat(64)}.1-0-1-ff.cas-tmp`, 'partial-download'],
      ['tmp/dead.cas-tmp', 'temp-file'],
    ])
  })

  it('never lists what changed within the grace period', async () => {
    const root = tempDir()
    put(root, 'tmp/young.cas-tmp')
    put(root, 'dirs/abc.cas-tmpdir-1-0-1-ff/f')
    expect(await list(root, Date.now())).toEqual([])
  })

  it('never lists an old temp whose writer is alive (its store holds the owner record)', async () => {
    const store = await openStore(tempDir())
    await store.ensureFile(Buffer.from('makes the store hold its owner record'), { mode: 0o644 })
    const [record] = fs.readdirSync(path.join(store.root, 'owners'))
    const temp = put(store.root, `tmp/${record!.replace('.cas-owner', '').replace(/-([0-9a-f]+)$/, '-zz-$1')}.cas-tmp`)
    expect(await list(store.root)).toEqual([])
    await store.close()
    // Closed, the store removed its record: the temp it vouched for is judged by age alone now.
    expect(fs.existsSync(path.join(store.root, 'owners', record!))).toBe(false)
    expect(await list(store.root)).toEqual([[path.relative(store.root, temp), 'temp-file']])
  })

  it('a leftover removed after its folder was listed is skipped', async () => {
    const root = tempDir()
    const first = put(root, 'tmp/1.cas-tmp')
    const second = put(root, 'tmp/2.cas-tmp')
    const seen: string[] = []
    for await (const t of staleTemps(root, GRACE, later())) {
      seen.push(t.path)
      if (t.path === first) fs.rmSync(second) // removed by another cleaner meanwhile
    }
    expect(seen).toEqual([first])
  })
  it('any other error meeting a listed leftover stops the sweep: it is not taken for "gone"', async () => {
    const root = tempDir()
    const first = put(root, 'tmp/1.cas-tmp')
    put(root, 'tmp/2.cas-tmp')
    const sweeping = (async () => {
      for await (const t of staleTemps(root, GRACE, later())) {
        if (t.path !== first) continue
        // tmp/ replaced by a file after it was listed: the next lstat fails with ENOTDIR.
        fs.rmSync(path.join(root, 'tmp'), { recursive: true })
        fs.writeFileSync(path.join(root, 'tmp'), '')
      }
    })()
    await expect(sweeping).rejects.toMatchObject({ code: 'ENOTDIR' })
  })
})

describe('removeTemp', () => {
  it('a temp file or stray: removed; one already gone: false', async () => {
    const root = tempDir()
    const file = put(root, 'tmp/dead.cas-tmp')
    expect(await removeTemp(tempOf(file, 'temp-file'))).toBe(true)
    expect(fs.existsSync(file)).toBe(false)
    expect(await removeTemp(tempOf(file, 'temp-file'))).toBe(false)
    expect(fs.readdirSync(path.join(root, 'tmp'))).toEqual([])
  })

  it('a fill folder: removed with its content while its entry\'s lock is free, kept while a filler holds it', async () => {
    const root = tempDir()
    const fill = path.join(root, 'dirs', 'abc.cas-tmpdir-1-0-1-ff')
    put(root, 'dirs/abc.cas-tmpdir-1-0-1-ff/deep/file')
    const filling = gate()
    const filler = withKeyLock(path.join(root, 'dirs', 'abc.lock'), 'abc', filling.wait)
    await filling.reached
    expect(await removeTemp(tempOf(fill, 'fill-dir'))).toBe(false)
    expect(fs.existsSync(path.join(fill, 'deep', 'file'))).toBe(true)
    filling.open()
    await filler
    expect(await removeTemp(tempOf(fill, 'fill-dir'))).toBe(true)
    expect(fs.readdirSync(path.join(root, 'dirs'))).toEqual([])
  })

  it('an owner record: kept while its store is open, removed once it is closed', async () => {
    const store = await openStore(tempDir())
    await store.ensureFile(Buffer.from('makes the store hold its owner record'), { mode: 0o644 })
    const [name] = fs.readdirSync(path.join(store.root, 'owners'))
    const record = path.join(store.root, 'owners', name!)
    expect(await removeTemp(tempOf(record, 'owner-record'))).toBe(false)
    expect(fs.existsSync(record)).toBe(true)
    await store.close()
    expect(await removeTemp(tempOf(record, 'owner-record'))).toBe(true)
    expect(fs.existsSync(record)).toBe(false)
  })

  it('a key lock file: removed when free, kept while held; one already gone: false', async () => {
    const root = tempDir()
    const dead = put(root, 'partial/dead.lock')
    expect(await removeTemp(tempOf(dead, 'lock-file'))).toBe(true)
    expect(fs.existsSync(dead)).toBe(false)
    expect(await removeTemp(tempOf(dead, 'lock-file'))).toBe(false)
    expect(fs.existsSync(dead)).toBe(false)
    const live = path.join(root, 'partial', 'live.lock')
    const done = gate()
    const inside = gate()
    const holder = withKeyLock(live, 'live', async () => { await inside.wait(); await done.wait() })
    await inside.reached
    expect(await removeTemp(tempOf(live, 'lock-file'))).toBe(false)
    expect(fs.existsSync(live)).toBe(true)
    inside.open()
    done.open()
    await holder
  })
})
