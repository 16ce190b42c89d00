// openStore(dir, { fsync: true }) promises that content survives a power cut: every file is on disk before the
// rename that makes it content. fetchFile's download is such a file. Without a power cut, this is observed by
// recording the inode of every fsync and checking each rename into files/ against them; ensureFile's two paths
// (small and streamed) are the control.
import fs from 'node:fs'
import path from 'node:path'
import { afterEach, expect, it, vi } from 'vitest'
import { openStore } from '../../lib/index.js'
import { contentOf, sha512Hex } from '../helpers/content.js'
import { startServer, type TestServer } from '../helpers/server.js'
import { tempDir } from '../helpers/tmp.js'

const synced = new Set<number>()
vi.mock('../../lib/util/fs.js', async importOriginal => {
  const real = await importOriginal<typeof import('../../lib/util/fs.js')>()
  return {
    ...real,
    fsyncAsync: async (fd: number) => {
      synced.add(fs.fstatSync(fd).ino)
      await real.fsyncAsync(fd)
    },
  }
})

const servers: TestServer[] = []
afterEach(async () => {
  vi.restoreAllMocks()
  synced.clear() // inode numbers are reused once a test's files are gone
  for (const server of servers.splice(0)) await server.close()
})

/** For each rename into `files/`: whether the inode renamed was fsynced before. */
function watchRenames (root: string): boolean[] {
  const seen: boolean[] = []
  const realFsyncSync = fs.fsyncSync.bind(fs)
  vi.spyOn(fs, 'fsyncSync').mockImplementation(fd => {
    synced.add(fs.fstatSync(fd).ino)
    realFsyncSync(fd)
  })
  const realRename = fs.renameSync.bind(fs)
  vi.spyOn(fs, 'renameSync').mockImplementation((from, to) => {
    const ino = fs.statSync(from).ino
    realRename(from, to) // (a first rename into a missing files/xx/ throws ENOENT and is retried: the one done counts)
    if (String(to).startsWith(path.join(root, 'files'))) seen.push(synced.has(ino))
  })
  return seen
}

it('with fsync: true, a download is on disk before its rename into the store, as ensureFile\'s temps are', async () => {
  const body = contentOf('fetch-fsync', 1, 2 * 1024 * 1024)
  const server = await startServer(body)
  servers.push(server)
  const store = await openStore(tempDir(), { fsync: true })
  const seen = watchRenames(store.root)
  await store.ensureFile(contentOf('fetch-fsync', 2, 1000), { mode: 0o644 }) // small: the synchronous path
  await store.ensureFile(contentOf('fetch-fsync', 3, 2 * 1024 * 1024), { mode: 0o644 }) // large: streamed
  await store.fetchFile(server.url, { digest: sha512Hex(body) })
  expect(seen).toEqual([true, true, true])
  await store.close()
})

it('without fsync, a download is renamed into the store unsynced (fsync is the option\'s cost, not a default)', async () => {
  const body = contentOf('fetch-fsync', 4, 300_000)
  const server = await startServer(body)
  servers.push(server)
  const store = await openStore(tempDir())
  const seen = watchRenames(store.root)
  await store.fetchFile(server.url, { digest: sha512Hex(body) })
  expect(seen).toEqual([false])
  await store.close()
})

it('with fsync: true, a kept partial that is already whole (the server answers 416) is synced before its rename', async () => {
  const body = contentOf('fetch-fsync', 5, 200_000)
  const digest = sha512Hex(body)
  const server = await startServer(body)
  servers.push(server)
  const store = await openStore(tempDir(), { fsync: true })
  // What a failed download parks (all its bytes arrived, then the connection dropped): written, never synced.
  const parked = path.join(store.root, 'partial', `${digest}.partial`)
  fs.mkdirSync(path.dirname(parked), { recursive: true })
  fs.writeFileSync(parked, body)
  const seen = watchRenames(store.root)
  const result = await store.fetchFile(server.url, { digest })
  expect(fs.readFileSync(result.filePath).equals(body)).toBe(true)
  expect(server.served.map(r => r.status)).toEqual([416]) // the whole-already path
  expect(seen).toEqual([true])
  await store.close()
})
