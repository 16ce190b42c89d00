// Moving a finished import folder to its target, whole or not at all, against what other importers do at the same
// path. Their moves between our two renames have no pause point of their own, so the tests wrap the real
// `fs.renameSync` (which placeDir calls) and act right after our "move the old target aside" rename, or in the
// isComplete callback, exactly where a concurrent importer's rename would land.
import fs from 'node:fs'
import path from 'node:path'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { FileAccessError } from '../../lib/index.js'
import { placeDir } from '../../lib/import/placeDir.js'
import { IMPORT_OLD_INFIX } from '../../lib/import/stageNames.js'
import { listFiles, tempDir } from '../helpers/tmp.js'

const realRename = fs.renameSync

interface Setup { nm: string, stage: string, target: string }

function setup (): Setup {
  const nm = tempDir()
  const stage = path.join(nm, '.pkg.cas-import-ours')
  folder(stage, 'ours')
  return { nm, stage, target: path.join(nm, 'pkg') }
}

/** A package folder whose index.js says who wrote it. */
function folder (dir: string, who: string): void {
  fs.mkdirSync(path.join(dir, 'lib'), { recursive: true })
  fs.writeFileSync(path.join(dir, 'index.js'), who)
  fs.writeFileSync(path.join(dir, 'lib', 'a.js'), who)
}

const writer = (dir: string): string => fs.readFileSync(path.join(dir, 'index.js'), 'utf8')
const errno = (code: string): NodeJS.ErrnoException => Object.assign(new Error(code), { code })
const isAside = (to: fs.PathLike): boolean => path.basename(String(to)).includes(IMPORT_OLD_INFIX)

/** Calls `after` right after each successful rename of the target aside (our first rename of a replacement). */
function afterMovingAside (after: () => void): void {
  vi.spyOn(fs, 'renameSync').mockImplementation((from, to) => {
    realRename(from, to)
    if (isAside(to)) after()
  })
}

afterEach(() => { vi.restoreAllMocks() })

describe('placeDir', () => {
  it('nothing at the target: ours becomes the target', async () => {
    const { nm, stage, target } = setup()
    expect(await placeDir(stage, target, false, async () => { throw new Error('not asked') })).toBe(true)
    expect(writer(target)).toBe('ours')
    expect(fs.readdirSync(nm)).toEqual(['pkg'])
  })

  it('a complete target is kept as it is (same folder), and ours is removed', async () => {
    const { nm, stage, target } = setup()
    folder(target, 'theirs')
    const before = fs.statSync(target).ino
    expect(await placeDir(stage, target, false, async () => true)).toBe(false)
    expect(fs.statSync(target).ino).toBe(before)
    expect(writer(target)).toBe('theirs')
    expect(fs.readdirSync(nm)).toEqual(['pkg'])
  })

  it('an incomplete target is replaced by ours, and the old one removed', async () => {
    const { nm, stage, target } = setup()
    folder(target, 'half')
    expect(await placeDir(stage, target, false, async () => false)).toBe(true)
    expect(writer(target)).toBe('ours')
    expect(fs.readdirSync(nm)).toEqual(['pkg'])
  })

  it('force replaces a complete target once; a complete one another importer renames in meanwhile is kept', async () => {
    const { nm, stage, target } = setup()
    folder(target, 'old')
    let renamedIn = 0
    afterMovingAside(() => {
      if (renamedIn++ === 0) folder(target, 'concurrent') // lands between our two renames
    })
    // The concurrent importer's folder is as fresh as ours: replacing it too would swap without end.
    expect(await placeDir(stage, target, true, async () => writer(target) === 'concurrent')).toBe(false)
    expect(writer(target)).toBe('concurrent')
    expect(fs.readdirSync(nm)).toEqual(['pkg'])
  })

  it('the old target moved away by someone else as we move it aside: ours goes in', async () => {
    const { nm, stage, target } = setup()
    folder(target, 'old')
    vi.spyOn(fs, 'renameSync').mockImplementation((from, to) => {
      if (isAside(to)) realRename(target, path.join(nm, 'moved-by-another')) // ours then meets ENOENT
      realRename(from, to)
    })
    expect(await placeDir(stage, target, false, async () => false)).toBe(true)
    expect(writer(target)).toBe('ours')
    expect(fs.readdirSync(nm).sort()).toEqual(['moved-by-another', 'pkg'])
  })

  it('failing to move the old target aside is ERR_CAS_FILE_ACCESS with its cause; ours is removed, theirs stays', async () => {
    const { nm, stage, target } = setup()
    folder(target, 'old')
    vi.spyOn(fs, 'renameSync').mockImplementation((from, to) => {
      if (isAside(to)) throw errno('EACCES')
      realRename(from, to)
    })
    const err = await placeDir(stage, target, false, async () => false).then(() => undefined, (e: unknown) => e)
    expect(err).toBeInstanceOf(FileAccessError)
    expect(err).toMatchObject({ code: 'ERR_CAS_FILE_ACCESS', path: target, cause: { code: 'EACCES' } })
    expect(writer(target)).toBe('old')
    expect(fs.readdirSync(nm)).toEqual(['pkg'])
  })

  it('our folder removed under us (ENOENT renaming it) is ERR_CAS_FILE_ACCESS with that cause, not a retry', async () => {
    const { nm, stage, target } = setup()
    fs.rmSync(stage, { recursive: true })
    const isComplete = vi.fn(async () => false)
    const err = await placeDir(stage, target, false, isComplete).then(() => undefined, (e: unknown) => e)
    expect(err).toBeInstanceOf(FileAccessError)
    expect(err).toMatchObject({ code: 'ERR_CAS_FILE_ACCESS', path: target, cause: { code: 'ENOENT' } })
    expect(fs.readdirSync(nm)).toEqual([])
  })

  it('the old target goes aside under the stage\'s own id (what a cleaner looks for after a kill), and is removed', async () => {
    const { nm, stage, target } = setup()
    folder(target, 'half')
    const asides: string[] = []
    afterMovingAside(() => { asides.push(...fs.readdirSync(nm).filter(n => n.includes(IMPORT_OLD_INFIX))) })
    expect(await placeDir(stage, target, false, async () => false)).toBe(true)
    expect(asides).toEqual(['.pkg.cas-old-ours'])
    expect(fs.readdirSync(nm)).toEqual(['pkg'])
  })

  it('an old target it cannot remove is told to `kept` (the import succeeded all the same)', async () => {
    const { nm, stage, target } = setup()
    folder(target, 'half')
    const realRm = fs.promises.rm
    vi.spyOn(fs.promises, 'rm').mockImplementation(async (p, o) => {
      if (isAside(p)) throw errno('EBUSY')
      await realRm(p, o)
    })
    const kept: string[] = []
    expect(await placeDir(stage, target, false, async () => false, folder => { kept.push(folder) })).toBe(true)
    expect(writer(target)).toBe('ours')
    expect(kept).toEqual([path.join(nm, '.pkg.cas-old-ours')])
    expect(fs.readdirSync(nm).sort()).toEqual(['.pkg.cas-old-ours', 'pkg'])
  })

  it('others that keep putting an incomplete target back: ERR_CAS_FILE_ACCESS (EBUSY), nothing of ours left', async () => {
    const { nm, stage, target } = setup()
    folder(target, 'half')
    afterMovingAside(() => { folder(target, 'half again') })
    const err = await placeDir(stage, target, false, async () => false).then(() => undefined, (e: unknown) => e)
    expect(err).toBeInstanceOf(FileAccessError)
    expect(err).toMatchObject({ code: 'ERR_CAS_FILE_ACCESS', path: target, cause: { code: 'EBUSY' } })
    // The last folder another importer put there stays; ours and every folder we moved aside are gone.
    expect(fs.readdirSync(nm)).toEqual(['pkg'])
    expect(listFiles(target)).toEqual(['index.js', 'lib/a.js'])
  })
})
