// What `cas verify --fix` and `cas prune` do with a dead importer's journal (`tmp/<id>.cas-imports`): remove the
// folders it names that are that importer's own, then the journal. The journal is a file in a store others may
// write to, so its content is hostile: a path of any other shape, another owner's folder, a link, a file, a relative
// path, an entry cut short, must remove nothing. The journals here are written by hand, as a killed importer (or an
// attacker) leaves them; a real killed importer: test/races/killedImporterSwept.test.ts.
import { execFileSync } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { openStore, type Store } from '../../lib/index.js'
import { MAX_JOURNAL_BYTES } from '../../lib/maint/importLeftovers.js'
import { listFiles, tempDir } from '../helpers/tmp.js'

/** A dead importer: its owner record exists and nobody holds its lock (the kernel dropped it when it died). */
const OWNER = '999999-0-0123456789abcdef'
const idOf = (n: number): string => `999999-0-${n.toString(36)}-0123456789abcdef`
const JOURNAL_ID = idOf(1)

interface Setup { store: Store, nm: string, journal: string }

async function setup (): Promise<Setup> {
  const dir = tempDir()
  // The clock the sweep judges ages by runs a second ahead: a journal written in the test's last millisecond can
  // carry a ctime a fraction of a millisecond past Date.now(), and a file changed "after now" is young (kept) even
  // with no grace. Without this the tests failed now and then in the mutation runs' thread pool.
  const store = await openStore(path.join(dir, 'store'), { _now: () => Date.now() + 1000 })
  fs.mkdirSync(path.join(store.root, 'owners'), { recursive: true })
  fs.writeFileSync(path.join(store.root, 'owners', `${OWNER}.cas-owner`), '')
  fs.mkdirSync(path.join(store.root, 'tmp'), { recursive: true })
  const nm = path.join(dir, 'node_modules')
  fs.mkdirSync(nm)
  return { store, nm, journal: path.join(store.root, 'tmp', `${JOURNAL_ID}.cas-imports`) }
}

/** A folder with a file in it (what an import leaves half-filled, or what a user must keep). */
function folder (dir: string): string {
  fs.mkdirSync(dir, { recursive: true })
  fs.writeFileSync(path.join(dir, 'index.js'), 'module.exports = 1')
  return dir
}

/** Writes a journal with these entries (each NUL-terminated, as an importer writes them) and an optional tail. */
function writeJournal (journal: string, entries: string[], tail = ''): void {
  fs.writeFileSync(journal, entries.map(e => e + '\0').join('') + tail)
}

async function verifyFix (store: Store): Promise<Awaited<ReturnType<Store['verifyStore']>>> {
  return await store.verifyStore({ fix: true, graceMs: 0 })
}

const journalReports = (report: Awaited<ReturnType<Store['verifyStore']>>): unknown[] =>
  report.staleTemps.filter(t => t.kind === 'import-journal').map(t => ({ path: t.path, folders: t.folders, removed: t.removed }))

describe('a dead importer\'s journal', () => {
  it('verify lists its temp folder and moved-aside old target; --fix removes both, then the journal', async () => {
    const { store, nm, journal } = await setup()
    const stage = folder(path.join(nm, `.pkg.cas-import-${idOf(2)}`))
    const aside = folder(path.join(nm, `.pkg.cas-old-${idOf(2)}`))
    const kept = folder(path.join(nm, 'pkg'))
    writeJournal(journal, [stage])
    const listed = await store.verifyStore({ graceMs: 0 })
    expect(journalReports(listed)).toEqual([{ path: journal, folders: [stage, aside], removed: false }])
    expect(fs.existsSync(stage) && fs.existsSync(aside) && fs.existsSync(journal)).toBe(true)
    expect(journalReports(await verifyFix(store))).toEqual([{ path: journal, folders: [stage, aside], removed: true }])
    expect(fs.readdirSync(nm)).toEqual(['pkg'])
    expect(listFiles(kept)).toEqual(['index.js'])
    expect(fs.existsSync(journal)).toBe(false)
    await store.close()
  })

  it('every complete entry counts: a journal naming two imports\' folders and a cut entry loses both folders', async () => {
    const { store, nm, journal } = await setup()
    const first = folder(path.join(nm, `.a.cas-import-${idOf(2)}`))
    const second = folder(path.join(nm, `.b.cas-import-${idOf(3)}`))
    const cut = folder(path.join(nm, `.c.cas-import-${idOf(4)}`))
    writeJournal(journal, [first, second], cut)
    expect(journalReports(await verifyFix(store))).toEqual([{ path: journal, folders: [first, second], removed: true }])
    expect(fs.readdirSync(nm)).toEqual([path.basename(cut)])
    await store.close()
  })

  it('a journal whose name carries no owner id removes nothing, even folders whose ids do not parse either', async () => {
    const { store, nm } = await setup()
    const journal = path.join(store.root, 'tmp', 'junk.cas-imports') // judged by age alone: no owner record
    const odd = folder(path.join(nm, '.p.cas-import-junk'))
    writeJournal(journal, [odd])
    expect(journalReports(await verifyFix(store))).toEqual([{ path: journal, folders: [], removed: true }])
    expect(fs.readdirSync(nm)).toEqual([path.basename(odd)])
    await store.close()
  })

  it('a journal whose folders are already gone is just removed', async () => {
    const { store, nm, journal } = await setup()
    writeJournal(journal, [path.join(nm, `.a.cas-import-${idOf(2)}`), path.join(nm, `.b.cas-import-${idOf(3)}`)])
    expect(journalReports(await verifyFix(store))).toEqual([{ path: journal, folders: [], removed: true }])
    expect(fs.existsSync(journal)).toBe(false)
    await store.close()
  })

  it('cas prune removes them too, and counts the journal as a stale temp', async () => {
    const { store, nm, journal } = await setup()
    const stage = folder(path.join(nm, `.pkg.cas-import-${idOf(2)}`))
    writeJournal(journal, [stage])
    const report = await store.pruneStore({ graceMs: 0, allowNoIndexes: true })
    expect(report.tempsRemoved).toBe(2) // the journal, and the dead owner's record
    expect(fs.readdirSync(nm)).toEqual([])
    expect(fs.existsSync(journal)).toBe(false)
    await store.close()
  })

  it('a hostile journal naming folders of any other shape removes none of them', async () => {
    const { store, nm, journal } = await setup()
    const home = folder(path.join(path.dirname(nm), 'home', 'user')) // "/home/user"
    const project = folder(path.join(nm, 'pkg'))
    const otherOwners = folder(path.join(nm, '.pkg.cas-import-4242-0-1-fedcba9876543210'))
    const notAnId = folder(path.join(nm, '.pkg.cas-import-../../home'))
    writeJournal(journal, [
      home, '/home/user', '/', project, path.dirname(nm), otherOwners, notAnId,
      path.join(nm, `pkg.cas-import-${idOf(2)}`), // no leading dot: not a name an import makes
      path.join(nm, `.pkg.cas-old-${idOf(2)}`), // an old target is found from its import folder's name, never named
    ])
    folder(path.join(nm, `pkg.cas-import-${idOf(2)}`))
    folder(path.join(nm, `.pkg.cas-old-${idOf(2)}`))
    const before = listFiles(nm)
    expect(before).toHaveLength(5)
    expect(journalReports(await verifyFix(store))).toEqual([{ path: journal, folders: [], removed: true }])
    expect(listFiles(nm)).toEqual(before)
    expect(listFiles(home)).toEqual(['index.js'])
    await store.close()
  })

  it('a link or a file at the name of the importer\'s folder is not a folder it made: both stay, and where the link points', async () => {
    const { store, nm, journal } = await setup()
    const precious = folder(path.join(path.dirname(nm), 'precious'))
    const link = path.join(nm, `.pkg.cas-import-${idOf(2)}`)
    fs.symlinkSync(precious, link)
    const file = path.join(nm, `.other.cas-import-${idOf(3)}`)
    fs.writeFileSync(file, 'a file')
    writeJournal(journal, [link, file])
    expect(journalReports(await verifyFix(store))).toEqual([{ path: journal, folders: [], removed: true }])
    expect(fs.lstatSync(link).isSymbolicLink()).toBe(true)
    expect(fs.readFileSync(file, 'utf8')).toBe('a file')
    expect(listFiles(precious)).toEqual(['index.js'])
    await store.close()
  })

  it('a relative path is not resolved against the cleaner\'s working folder', async () => {
    const { store, nm, journal } = await setup()
    const name = `.pkg.cas-import-${idOf(2)}`
    folder(path.join(nm, name))
    // Relative to this process's working folder, the first entry does reach the folder (no chdir: the mutation
    // runs use worker threads, where process.chdir() is not supported).
    writeJournal(journal, [path.relative(process.cwd(), path.join(nm, name)), name, `./${name}`])
    expect(journalReports(await verifyFix(store))).toEqual([{ path: journal, folders: [], removed: true }])
    expect(fs.readdirSync(nm)).toEqual([name])
    await store.close()
  })

  it('an entry a crash cut short (no NUL after it) is not trusted: it may be a prefix of the real name', async () => {
    const { store, nm, journal } = await setup()
    const whole = folder(path.join(nm, `.a.cas-import-${idOf(2)}`))
    const cut = folder(path.join(nm, `.b.cas-import-${idOf(3)}`))
    writeJournal(journal, [whole], cut)
    expect(journalReports(await verifyFix(store))).toEqual([{ path: journal, folders: [whole], removed: true }])
    expect(fs.readdirSync(nm)).toEqual([path.basename(cut)])
    await store.close()
  })

  it('what is not a regular journal file (folder, FIFO, link, oversized) is not read: the sweep neither blocks nor follows', async () => {
    const { store, nm } = await setup()
    const stage = folder(path.join(nm, `.pkg.cas-import-${idOf(9)}`))
    const tmp = path.join(store.root, 'tmp')
    fs.mkdirSync(path.join(tmp, `${idOf(2)}.cas-imports`))
    execFileSync('mkfifo', [path.join(tmp, `${idOf(3)}.cas-imports`)])
    const outside = path.join(path.dirname(nm), 'looks-like-a-journal')
    writeJournal(outside, [stage])
    fs.symlinkSync(outside, path.join(tmp, `${idOf(4)}.cas-imports`))
    const big = path.join(tmp, `${idOf(5)}.cas-imports`)
    writeJournal(big, [stage])
    fs.truncateSync(big, MAX_JOURNAL_BYTES + 1) // sparse: NULs after the entry
    const report = await verifyFix(store)
    expect(report.staleTemps.filter(t => t.kind === 'import-journal').map(t => [path.basename(t.path), t.folders, t.removed]))
      .toEqual([2, 3, 4, 5].map(n => [`${idOf(n)}.cas-imports`, [], true]))
    expect(fs.readdirSync(tmp)).toEqual([])
    expect(listFiles(stage)).toEqual(['index.js'])
    expect(fs.existsSync(outside)).toBe(true)
    await store.close()
  })

  it('a journal without an owner record is judged by age, as tmp/ files are', async () => {
    const { store, nm, journal } = await setup()
    fs.rmSync(path.join(store.root, 'owners', `${OWNER}.cas-owner`))
    const stage = folder(path.join(nm, `.pkg.cas-import-${idOf(2)}`))
    writeJournal(journal, [stage])
    expect(journalReports(await store.verifyStore({ fix: true, graceMs: 60_000 }))).toEqual([])
    expect(fs.existsSync(stage)).toBe(true)
    expect(journalReports(await verifyFix(store))).toEqual([{ path: journal, folders: [stage], removed: true }])
    expect(fs.existsSync(stage)).toBe(false)
    await store.close()
  })
})
