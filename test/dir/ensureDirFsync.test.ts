// openStore(dir, { fsync: true }) promises content that survives a power cut. A directory entry is complete when
// its marker is there, so with the option everything `fill` wrote, and the marker, are on disk before the folder is
// renamed into place, and the parent folder after. Observed through the fs calls (no power cut): each fsync is
// recorded by the inode it flushed, and checked at the rename.
import { execFileSync } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import { afterEach, expect, it, vi } from 'vitest'
import { openStore } from '../../lib/index.js'
import { tempDir } from '../helpers/tmp.js'

// Every fsync, in order, by the inode it flushed: through fs.fsyncSync (spied in `watch`) or fsyncPathAsync.
const order: number[] = []
vi.mock('../../lib/util/fs.js', async importOriginal => {
  const real = await importOriginal<typeof import('../../lib/util/fs.js')>()
  return {
    ...real,
    fsyncPathAsync: async (file: string) => {
      const ino = fs.statSync(file).ino
      const synced = await real.fsyncPathAsync(file)
      if (synced) order.push(ino)
      return synced
    },
  }
})

afterEach(() => {
  vi.restoreAllMocks()
  order.length = 0
})

/**
 * Records every fsync (by inode, in order) and, at each rename, what under the renamed folder is not durable: a
 * file or folder never synced, or a folder whose last sync came before one of its entries was (so that entry's
 * name in it may be lost).
 */
function watch (): { order: number[], renames: Array<{ to: string, unsynced: string[] }> } {
  const renames: Array<{ to: string, unsynced: string[] }> = []
  const realFsync = fs.fsyncSync.bind(fs)
  vi.spyOn(fs, 'fsyncSync').mockImplementation(fd => {
    order.push(fs.fstatSync(fd).ino)
    realFsync(fd)
  })
  const realRename = fs.renameSync.bind(fs)
  vi.spyOn(fs, 'renameSync').mockImplementation((from, to) => {
    const unsynced: string[] = []
    const walk = (p: string): number => { // the position of p's last sync, or -1
      const stat = fs.lstatSync(p)
      // A link's (or a FIFO's) name needs its folder's sync only: it has no data of its own to sync.
      if (!stat.isFile() && !stat.isDirectory()) return -Infinity
      const last = order.lastIndexOf(stat.ino)
      const name = path.relative(String(from), p) || '.'
      if (last < 0) unsynced.push(name)
      if (stat.isDirectory()) {
        const entries = fs.readdirSync(p).map(entry => walk(path.join(p, entry)))
        if (last >= 0 && entries.some(at => at > last)) unsynced.push(name + ' (synced before its entries)')
      }
      return last
    }
    walk(String(from))
    realRename(from, to)
    renames.push({ to: String(to), unsynced })
  })
  return { order, renames }
}

const fill = (dir: string): void => {
  fs.mkdirSync(path.join(dir, 'src', 'deep'), { recursive: true })
  fs.writeFileSync(path.join(dir, 'src', 'deep', 'a.txt'), 'a')
  fs.writeFileSync(path.join(dir, 'b.txt'), 'b')
  fs.symlinkSync('b.txt', path.join(dir, 'link'))
  // A FIFO is no file to sync: opened for reading it would wait for a writer forever.
  execFileSync('mkfifo', [path.join(dir, 'pipe')])
}

it('with fsync: true, every file and folder of the entry and its marker are synced before the rename, its parent after', async () => {
  const store = await openStore(tempDir(), { fsync: true })
  const { order, renames } = watch()
  const dir = await store.ensureDir('git+https://example.test/repo#abc', fill)
  expect(renames).toEqual([{ to: dir, unsynced: [] }])
  expect(order.at(-1)).toBe(fs.statSync(path.dirname(dir)).ino) // the parent, after the rename
  await store.close()
})

it('without it, nothing is synced (the option\'s cost is not a default)', async () => {
  const store = await openStore(tempDir())
  const { order } = watch()
  await store.ensureDir('git+https://example.test/repo#abc', fill)
  expect(order).toEqual([])
  await store.close()
})
