// Folder adds on the store's threads: the same index as on the calling thread, the real coded errors, and the
// writer's locked steps (rename, claim) run on the calling thread under its path lock, never in a thread.
import fs from 'node:fs'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { openStore, type PackageIndex } from '../../lib/index.js'
import type { TestHooks } from '../../lib/util/hooks.js'
import { contentOf } from '../helpers/content.js'
import { gate } from '../helpers/gate.js'
import { threadsFirst } from '../helpers/threads.js'
import { makeTarball } from '../helpers/tarball.js'
import { listFiles, tempDir } from '../helpers/tmp.js'

/** A package folder of `count` files (with a package.json), big enough to go to the threads (>= 64 files). */
function makeFolder (count: number, seed = 'thr'): string {
  const dir = tempDir()
  fs.writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ name: seed, version: '1.0.0' }))
  for (let i = 0; i < count; i++) {
    fs.mkdirSync(path.join(dir, `d${i % 7}`), { recursive: true })
    fs.writeFileSync(path.join(dir, `d${i % 7}`, `f${i}.js`), contentOf(seed, i, 200 + (i * 37) % 3000), { mode: i % 5 === 0 ? 0o755 : 0o644 })
  }
  return dir
}

/** A .tgz of `count` files (well above the 16 KiB the threads take). */
function makePackageTarball (count: number, seed = 'tgz'): Buffer {
  return makeTarball([
    { path: 'package/package.json', body: JSON.stringify({ name: seed, version: '1.0.0' }) },
    ...Array.from({ length: count }, (_, i) => ({ path: `package/lib/f${i}.js`, body: contentOf(seed, i, 500 + i * 11) })),
  ])
}

const plain = (index: PackageIndex): unknown => ({
  ...index,
  files: [...index.files].map(([name, f]) => [name, f.digest, f.mode, f.size]).sort(),
})

/** Counts the files a thread did not add (redone on the calling thread). */
function redone (): { hooks: TestHooks, count: () => number } {
  let n = 0
  return { hooks: { 'add:redoneHere': () => { n++ } }, count: () => n }
}

describe('bulk adds on threads', () => {
  it('a folder: the same index as without threads, the threads\' files none redone here', async () => {
    const src = makeFolder(300)
    const here = await openStore(tempDir(), { threads: 0 })
    const expected = await here.addFilesFromDir(src)
    await here.close()
    const counter = redone()
    let handedOff = 0
    const hooks = threadsFirst({ ...counter.hooks, 'add:handedOff': () => { handedOff++ } })
    const store = await openStore(tempDir(), { threads: 2, _hooks: hooks })
    const index = await store.addFilesFromDir(src)
    expect(plain(index)).toEqual(plain(expected))
    expect(handedOff).toBe(1)
    expect(counter.count()).toBe(0)
    for (const file of index.files.values()) {
      expect(fs.readFileSync(store.filePathFor(file.digest, file.mode)).length).toBe(file.size)
    }
    expect(listFiles(path.join(store.root, 'tmp'))).toEqual([])
    await store.close()
  }, 60_000)

  it('four threads and four folders added at once: no crash (fs-ext is never loaded in a thread), same results', async () => {
    const store = await openStore(tempDir(), { threads: 4 })
    const folders = Array.from({ length: 4 }, (_, i) => makeFolder(120, `many${i}`))
    const indexes = await Promise.all(folders.map(async f => await store.addFilesFromDir(f)))
    expect(indexes.map(i => i.files.size)).toEqual(Array(4).fill(121))
    await store.close()
  }, 60_000)

  it('tarballs are not given to threads (measured: no faster, 40-70% more CPU): no hand-off, nothing redone', async () => {
    const counter = redone()
    let handedOff = 0
    const store = await openStore(tempDir(), { threads: 2, _hooks: { ...counter.hooks, 'add:handedOff': () => { handedOff++ } } })
    const index = await store.addFilesFromTarball(makePackageTarball(200))
    expect(index.files.size).toBe(201)
    expect(handedOff).toBe(0)
    expect(counter.count()).toBe(0)
    await store.close()
  }, 60_000)

  it('a file swapped for a link after the walk: ERR_CAS_FILE_CHANGED from the calling thread', async () => {
    const src = makeFolder(100)
    const victim = path.join(src, 'd3', 'f3.js')
    const store = await openStore(tempDir(), {
      threads: 2,
      _hooks: {
        'add:walked': () => {
          fs.rmSync(victim)
          fs.symlinkSync('/etc/hostname', victim)
        },
      },
    })
    await expect(store.addFilesFromDir(src)).rejects.toMatchObject({ code: 'ERR_CAS_FILE_CHANGED' })
    await store.close()
  }, 60_000)

  it('the threads rename nothing: until the calling thread completes their steps, content paths hold nothing', async () => {
    const src = makeFolder(100)
    const handedOff = gate()
    const store = await openStore(tempDir(), { threads: 2, _hooks: threadsFirst({ 'add:handedOff': handedOff.wait }) })
    const adding = store.addFilesFromDir(src)
    await handedOff.reached
    // The folder (101 files, one task) is written to temp files by now, and none is at its content path: only this
    // thread renames, and it has not started.
    expect(listFiles(path.join(store.root, 'files'))).toEqual([])
    expect(listFiles(path.join(store.root, 'tmp')).length).toBe(101)
    handedOff.open()
    const index = await adding
    expect(listFiles(path.join(store.root, 'files')).length).toBe(new Set([...index.files.values()].map(f => f.digest)).size)
    expect(listFiles(path.join(store.root, 'tmp'))).toEqual([])
    await store.close()
  }, 60_000)
})
