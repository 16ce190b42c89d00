// The import journal (`tmp/<id>.cas-imports`): an import's temp folder is named there before it exists and until
// it is gone; on every way out of a finished import (success, failure) nothing it names is left in node_modules,
// the journal is emptied with no import in flight once it grows past JOURNAL_EMPTIED_AT, and removed at close. A
// folder an import could not remove stays named, and the journal outlives the store, for `cas verify --fix`.
// (What a cleaner does with a dead importer's journal: test/maint/importLeftovers.test.ts and
// test/races/killedImporterSwept.test.ts.)
import fs from 'node:fs'
import path from 'node:path'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { openStore, type PackageIndex, type Store } from '../../lib/index.js'
import { JOURNAL_EMPTIED_AT } from '../../lib/lock/importJournal.js'
import { asidePathOf } from '../../lib/import/stageNames.js'
import { gate } from '../helpers/gate.js'
import { strayEntries, storeAndNodeModules } from '../helpers/importPkg.js'

afterEach(() => { vi.restoreAllMocks() })

const setup = storeAndNodeModules

/** The store's import journals (file names in tmp/). */
function journals (root: string): string[] {
  return fs.readdirSync(path.join(root, 'tmp')).filter(name => name.endsWith('.cas-imports'))
}

/** The entries of the store's one journal. */
function entries (root: string): string[] {
  const [journal] = journals(root)
  expect(journal).toBeDefined()
  return fs.readFileSync(path.join(root, 'tmp', journal!), 'utf8').split('\0').slice(0, -1)
}

/**
 * Imports into fresh targets until the journal has grown past JOURNAL_EMPTIED_AT (or was emptied on the way: then
 * the next assertion tells). Each entry is over 60 bytes: 1,200 imports are more than enough.
 */
async function growPast (store: Store, index: PackageIndex, nm: string): Promise<void> {
  for (let n = 0, last = 0; n < 1200 && last < JOURNAL_EMPTIED_AT; n++) {
    await store.importPackage(index, path.join(nm, `grow-${n}`))
    if (journalSize(store.root) < last) return
    last = journalSize(store.root)
  }
  await store.importPackage(index, path.join(nm, 'one-more')) // a moment with no other import in flight
}

const journalSize = (root: string): number => fs.statSync(path.join(root, 'tmp', journals(root)[0]!)).size

/** What the journal names that is still there: a temp folder, or an old target moved aside. */
function namedAndThere (root: string): string[] {
  return entries(root).flatMap(stage => [stage, asidePathOf(stage)]).filter(folder => fs.existsSync(folder))
}

describe('import journal', () => {
  it('names the temp folder before it exists; nothing it names is left once the import is done; close removes it', async () => {
    const { storeDir, nm, index } = await setup()
    const paused = gate()
    const store = await openStore(storeDir, { _hooks: { 'import:staged': async () => { await paused.wait() } } })
    const realMkdir = fs.mkdirSync
    const namedWhenMade: string[][] = []
    vi.spyOn(fs, 'mkdirSync').mockImplementation((p, o) => {
      if (path.basename(String(p)).includes('.cas-import-')) namedWhenMade.push(entries(store.root))
      return realMkdir(p, o)
    })
    const importing = store.importPackage(index, path.join(nm, 'p'))
    await paused.reached
    const [stage] = strayEntries(nm)
    expect(stage).toMatch(/^\.p\.cas-import-/)
    expect(namedWhenMade).toEqual([[path.join(nm, stage!)]])
    expect(entries(store.root)).toEqual([path.join(nm, stage!)])
    paused.open()
    expect((await importing).imported).toBe(true)
    expect(namedAndThere(store.root)).toEqual([])
    await store.close()
    expect(journals(store.root)).toEqual([])
  })

  it('the store\'s owner record is held before the journal exists: a cleaner in another store leaves a live import alone', async () => {
    // A store that has written nothing yet holds no owner record; its first import must take it, or a cleaner
    // (here a second store on the same folder, its own open file description) finds no live owner and, with no
    // grace, removes the folder of an import still in progress.
    const { storeDir, nm, index } = await setup()
    const paused = gate()
    const store = await openStore(storeDir, { _hooks: { 'import:staged': async () => { await paused.wait() } } })
    const importing = store.importPackage(index, path.join(nm, 'p'))
    await paused.reached
    const [stage] = strayEntries(nm)
    const cleaner = await openStore(storeDir)
    const report = await cleaner.verifyStore({ fix: true, graceMs: 0 })
    expect(report.staleTemps.filter(t => t.kind === 'import-journal')).toEqual([])
    expect(strayEntries(nm)).toEqual([stage])
    await cleaner.close()
    paused.open()
    expect((await importing).imported).toBe(true)
    await store.close()
  })

  it('past JOURNAL_EMPTIED_AT it is emptied, but only once no import is in flight', async () => {
    const { storeDir, nm, index } = await setup()
    const parked = gate()
    let park = true
    const store = await openStore(storeDir, {
      _hooks: { 'import:staged': async () => { if (park) await parked.wait() } },
    })
    const first = store.importPackage(index, path.join(nm, 'first'))
    await parked.reached
    park = false
    await growPast(store, index, nm)
    // The first import's folder is still there: it stays named.
    expect(journalSize(store.root)).toBeGreaterThan(JOURNAL_EMPTIED_AT)
    expect(namedAndThere(store.root)).toHaveLength(1)
    parked.open()
    await first
    expect(entries(store.root)).toEqual([])
    await store.close()
  })

  it('a failed import leaves nothing it names (content removed mid-import, and a target it cannot make)', async () => {
    const { storeDir, nm, index } = await setup()
    const info = index.files.get('lib/f0.js')!
    let removeContent = false
    const store = await openStore(storeDir, {
      _hooks: {
        'import:staged': () => { if (removeContent) fs.unlinkSync(store.filePathFor(info.digest, info.mode)) },
      },
    })
    fs.writeFileSync(path.join(nm, 'a-file'), 'not a folder')
    await expect(store.importPackage(index, path.join(nm, 'a-file', 'p')))
      .rejects.toMatchObject({ code: 'ERR_CAS_FILE_ACCESS' })
    expect(entries(store.root)).toHaveLength(1)
    expect(namedAndThere(store.root)).toEqual([])
    removeContent = true
    await expect(store.importPackage(index, path.join(nm, 'p'), { method: 'copy' }))
      .rejects.toMatchObject({ code: 'ERR_CAS_MISSING_CONTENT' })
    expect(entries(store.root)).toHaveLength(2)
    expect(namedAndThere(store.root)).toEqual([])
    expect(strayEntries(nm)).toEqual(['a-file'])
    await store.close()
    expect(journals(store.root)).toEqual([])
  })

  it('an old target it could not remove stays named after the import, and the journal outlives the store', async () => {
    const { storeDir, nm, index } = await setup()
    const target = path.join(nm, 'p')
    fs.mkdirSync(target)
    fs.writeFileSync(path.join(target, 'half.js'), 'an incomplete target: replaced, moved aside')
    const realRm = fs.promises.rm
    vi.spyOn(fs.promises, 'rm').mockImplementation(async (p, o) => {
      if (String(p).includes('.cas-old-')) throw Object.assign(new Error('EBUSY'), { code: 'EBUSY' })
      await realRm(p, o)
    })
    const store = await openStore(storeDir)
    expect((await store.importPackage(index, target)).imported).toBe(true)
    const [aside] = strayEntries(nm, ['p'])
    expect(aside).toMatch(/^\.p\.cas-old-/)
    expect(namedAndThere(store.root)).toEqual([path.join(nm, aside!)])
    // However far the journal grows afterwards, it is not emptied while it names that folder.
    await growPast(store, index, nm)
    expect(namedAndThere(store.root)).toEqual([path.join(nm, aside!)])
    await store.close()
    expect(journals(store.root)).toHaveLength(1)
  })

  it('a failed import whose temp folder could not be removed keeps it named, and the journal outlives the store', async () => {
    const { storeDir, nm, index } = await setup()
    const info = index.files.get('lib/f0.js')!
    const store = await openStore(storeDir, {
      _hooks: { 'import:staged': () => { fs.unlinkSync(store.filePathFor(info.digest, info.mode)) } },
    })
    const realRmSync = fs.rmSync
    vi.spyOn(fs, 'rmSync').mockImplementation((p, o) => {
      if (String(p).includes('.cas-import-')) throw Object.assign(new Error('EBUSY'), { code: 'EBUSY' })
      realRmSync(p, o)
    })
    await expect(store.importPackage(index, path.join(nm, 'p'), { method: 'copy' })).rejects.toThrow(/EBUSY/)
    const [stage] = strayEntries(nm)
    expect(stage).toMatch(/^\.p\.cas-import-/)
    expect(namedAndThere(store.root)).toEqual([path.join(nm, stage!)])
    await store.close()
    expect(journals(store.root)).toHaveLength(1) // left for `cas verify --fix`: it names a folder still there
  })

  it('a read-only store imports without a journal (it writes nothing in the store)', async () => {
    const { storeDir, nm, index } = await setup()
    const store = await openStore(storeDir, { readOnly: true })
    expect((await store.importPackage(index, path.join(nm, 'p'))).imported).toBe(true)
    expect(fs.existsSync(path.join(store.root, 'tmp')) ? journals(store.root) : []).toEqual([])
    await store.close()
  })
})
