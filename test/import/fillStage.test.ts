// Filling an import's fresh temp folder: every file by the ladder's method, large copies through the thread pool,
// EMFILE and the link limit (EMLINK) retried rather than failed, content removed meanwhile collected into one
// ERR_CAS_MISSING_CONTENT, and every other failure a coded error. The temp folder is on ext4 here, which has no
// reflinks: `auto` meets a real ENOTSUP on its first clone and steps down to hard links (as importPackage.test.ts).
import fs from 'node:fs'
import path from 'node:path'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { MissingContentError, NameCollisionError } from '../../lib/index.js'
import { fillStage } from '../../lib/import/fillStage.js'
import { _forgetMethods, MethodLadder, type ImportMethodOption } from '../../lib/import/importMethod.js'
import type { PackageFile } from '../../lib/import/packageFiles.js'
import { SYNC_IO_LIMIT } from '../../lib/util/hash.js'
import { listFiles, tempDir } from '../helpers/tmp.js'

interface Setup { store: string, stage: string, ladder: (method: ImportMethodOption) => MethodLadder }

function setup (): Setup {
  const dir = tempDir()
  const store = path.join(dir, 'store')
  const stage = path.join(dir, '.pkg.cas-import-test')
  fs.mkdirSync(store)
  fs.mkdirSync(stage)
  return { store, stage, ladder: (method) => new MethodLadder(store, fs.statSync(stage).dev, method, false) }
}

let count = 0
/** A store file with `body`, stored with `storeMode`, that the package names `name` with mode `mode`. */
function storeFile (store: string, name: string, body: Buffer | string, mode = 0o644, storeMode = mode): PackageFile {
  const src = path.join(store, `content-${count++}`)
  fs.writeFileSync(src, body)
  fs.chmodSync(src, storeMode)
  return { name, info: { digest: '0'.repeat(128), mode, size: Buffer.byteLength(body) }, src, storeMode }
}

const large = (seed: string): Buffer => Buffer.alloc(SYNC_IO_LIMIT + 1, seed)
const errno = (code: string): NodeJS.ErrnoException => Object.assign(new Error(code), { code })

function expectLinked (stage: string, file: PackageFile): void {
  expect(fs.statSync(path.join(stage, file.name)).ino).toBe(fs.statSync(file.src).ino)
}

function expectCopied (stage: string, file: PackageFile, mode: number): void {
  const dest = path.join(stage, file.name)
  expect(fs.statSync(dest).ino).not.toBe(fs.statSync(file.src).ino)
  expect(fs.readFileSync(dest).equals(fs.readFileSync(file.src))).toBe(true)
  expect(fs.statSync(dest).mode & 0o777).toBe(mode)
}

/** Links `src` until the file system refuses (EMLINK): ext4 allows 65,000 links to one inode. */
function linkToTheLimit (src: string, dir: string): void {
  fs.mkdirSync(dir)
  for (let i = 0; i < 70000; i++) {
    try {
      fs.linkSync(src, path.join(dir, String(i)))
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'EMLINK') return
      throw err
    }
  }
  throw new Error('The OS temp dir allows over 70,000 hard links to one file, so this test cannot reach EMLINK; ' +
    'run it with TMPDIR on ext4 (limit 65,000 links).')
}

beforeEach(() => { _forgetMethods() })
afterEach(() => { vi.restoreAllMocks() })

describe('fillStage', () => {
  it('large files (over the sync I/O limit) are imported too, a few at a time, stepping down from a failed clone', async () => {
    const { store, stage, ladder } = setup()
    // Only large files: the first clone is tried, and fails, on the thread-pool path.
    const files = Array.from({ length: 6 }, (_, i) => storeFile(store, `lib/big${i}.bin`, large(String(i))))
    expect(await fillStage(stage, ['lib'], files, ladder('auto'))).toBe('hardlink')
    expect(listFiles(stage)).toEqual(files.map(f => f.name).sort())
    for (const file of files) expectLinked(stage, file)
  })

  it('large copies get their own file with the package\'s mode, even when the store file lost it', async () => {
    const { store, stage, ladder } = setup()
    const files = [
      storeFile(store, 'bin/cli', large('c'), 0o755, 0o644),
      ...Array.from({ length: 5 }, (_, i) => storeFile(store, `data${i}.bin`, large(String(i)))),
      storeFile(store, 'small.js', 'small', 0o644),
    ]
    expect(await fillStage(stage, ['bin'], files, ladder('copy'))).toBe('copy')
    expect(listFiles(stage)).toEqual(files.map(f => f.name).sort())
    expectCopied(stage, files[0]!, 0o755)
    for (const file of files.slice(1)) expectCopied(stage, file, 0o644)
  })

  it('a small file that meets EMFILE is retried through graceful-fs and imported, not failed', async () => {
    const { store, stage, ladder } = setup()
    const copied = storeFile(store, 'a.js', 'a')
    vi.spyOn(fs, 'copyFileSync').mockImplementationOnce(() => { throw errno('EMFILE') })
    expect(await fillStage(stage, [], [copied], ladder('copy'))).toBe('copy')
    expectCopied(stage, copied, 0o644)

    const second = setup()
    const linked = storeFile(second.store, 'b.js', 'b')
    vi.spyOn(fs, 'linkSync').mockImplementationOnce(() => { throw errno('ENFILE') })
    expect(await fillStage(second.stage, [], [linked], second.ladder('hardlink'))).toBe('hardlink')
    expectLinked(second.stage, linked)
  })

  it('a store file at the file system\'s link limit (EMLINK) is copied with its mode; the others are still linked', async () => {
    const { store, stage, ladder } = setup()
    const full = storeFile(store, 'bin/popular', 'used by every project', 0o755)
    const other = storeFile(store, 'index.js', 'other')
    linkToTheLimit(full.src, path.join(store, 'links'))
    expect(await fillStage(stage, ['bin'], [full, other], ladder('hardlink'))).toBe('hardlink')
    expectCopied(stage, full, 0o755)
    expectLinked(stage, other)
  })

  it('content removed from the store meanwhile, small or large, is collected into one ERR_CAS_MISSING_CONTENT', async () => {
    const { store, stage, ladder } = setup()
    const files = [
      storeFile(store, 'gone.js', 'gone'),
      storeFile(store, 'kept.js', 'kept'),
      storeFile(store, 'gone.bin', large('g')),
    ]
    fs.rmSync(files[0]!.src)
    fs.rmSync(files[2]!.src)
    const err = await fillStage(stage, [], files, ladder('copy')).then(() => undefined, (e: unknown) => e)
    expect(err).toBeInstanceOf(MissingContentError)
    expect((err as MissingContentError).files.sort()).toEqual(['gone.bin', 'gone.js'])
  })

  it('a file retried after EMFILE whose content was removed meanwhile is reported missing, not a raw ENOENT', async () => {
    const { store, stage, ladder } = setup()
    const file = storeFile(store, 'a.js', 'a')
    vi.spyOn(fs, 'linkSync').mockImplementationOnce(() => {
      fs.rmSync(file.src) // `cas verify --fix` removes it while this import waits for a descriptor
      throw errno('EMFILE')
    })
    await expect(fillStage(stage, [], [file], ladder('hardlink')))
      .rejects.toMatchObject({ code: 'ERR_CAS_MISSING_CONTENT', files: ['a.js'] })
  })

  it('an ENOENT of the destination (its folder gone) is an access error naming it, not missing content', async () => {
    const { store, stage, ladder } = setup()
    const file = storeFile(store, 'lib/a.js', 'a')
    await expect(fillStage(stage, [], [file], ladder('hardlink')))
      .rejects.toMatchObject({ code: 'ERR_CAS_FILE_ACCESS', path: path.join(stage, 'lib/a.js') })
  })

  it('a store path blocked by a file (ENOTDIR) is an access error, not missing content: fetching again cannot fix it', async () => {
    const { store, stage, ladder } = setup()
    const file = storeFile(store, 'a.js', 'a')
    const blocker = path.join(store, 'fan-out')
    fs.writeFileSync(blocker, 'a file where the store expects a folder')
    const blocked = { ...file, src: path.join(blocker, 'content') }
    await expect(fillStage(stage, [], [blocked], ladder('hardlink')))
      .rejects.toMatchObject({ code: 'ERR_CAS_FILE_ACCESS', cause: { code: 'ENOTDIR' } })
  })

  it('a name already taken in the fresh folder (a file system that ignores case) is ERR_CAS_NAME_COLLISION', async () => {
    const { store, stage, ladder } = setup()
    // Two names a case-insensitive file system folds into one, as this case-sensitive one sees them.
    const files = [storeFile(store, 'readme.md', 'one'), storeFile(store, 'readme.md', 'two')]
    const err = await fillStage(stage, [], files, ladder('hardlink')).then(() => undefined, (e: unknown) => e)
    expect(err).toBeInstanceOf(NameCollisionError)
    expect(err).toMatchObject({ code: 'ERR_CAS_NAME_COLLISION', names: ['readme.md'] })
  })
})
