// usableIndex, called directly with an index backend that records its writes: a warm store's check is read-only
// (no index.db write per install, which would queue parallel installs on SQLite's one writer), and a check that
// re-hashed any file writes the renewed index back.
import fs from 'node:fs'
import path from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { addFilesFromTarball } from '../../lib/add/addFilesFromTarball.js'
import { createStoreContext, type StoreContext } from '../../lib/context.js'
import { usableIndex } from '../../lib/ensure/usableIndex.js'
import { contentPathFor } from '../../lib/layout/contentPath.js'
import type { IndexBackend } from '../../lib/pkgIndex/backend.js'
import { IndexDb } from '../../lib/pkgIndex/indexDb.js'
import { packageIndexKey } from '../../lib/pkgIndex/key.js'
import type { PackageIndex } from '../../lib/types.js'
import { makePackages } from '../helpers/packages.js'
import { tempDir } from '../helpers/tmp.js'

const opened: IndexDb[] = []
afterEach(async () => { for (const db of opened.splice(0)) await db.close() })

/** A store context, its index.db wrapped to record every write, and one package added and indexed. */
interface Setup { ctx: StoreContext, backend: IndexBackend, writes: string[], key: string, index: PackageIndex }

async function setup (): Promise<Setup> {
  const root = tempDir()
  for (const dir of ['files', 'tmp', 'locks']) fs.mkdirSync(path.join(root, dir))
  const ctx = createStoreContext({ root, fsync: false })
  const db = await IndexDb.open(root, { busyTimeoutMs: 10_000, durable: false })
  opened.push(db)
  const writes: string[] = []
  const backend: IndexBackend = {
    format: db.format,
    path: db.path,
    read: async key => await db.read(key),
    write: async (key, index) => {
      writes.push(key)
      await db.write(key, index)
    },
    delete: async (key, revision) => await db.delete(key, revision),
    list: () => db.list(),
    count: async () => await db.count(),
    close: async () => {},
  }
  const [pkg] = makePackages(1, 'usable')
  const index = await addFilesFromTarball(ctx, pkg!.tgz)
  const key = packageIndexKey(pkg!.integrity, pkg!.pkgId)
  await db.write(key, index)
  return { ctx, backend, writes, key, index }
}

describe('usableIndex', () => {
  it('an index whose files all pass the stat-only check is not written back', async () => {
    const { ctx, backend, writes, key } = await setup()
    expect(await usableIndex(ctx, backend, key, true)).toMatchObject({ status: 'usable' })
    expect(writes).toEqual([])
  })

  it('one file re-hashed (its checkedAt stale) is enough for the index to be written back', async () => {
    const { ctx, backend, writes, key, index } = await setup()
    const files = new Map(index.files)
    files.set('README.md', { ...files.get('README.md')!, checkedAt: 1 })
    await backend.write(key, { ...index, files })
    writes.length = 0
    const result = await usableIndex(ctx, backend, key, true)
    expect(result).toMatchObject({ status: 'usable' })
    expect(writes).toEqual([key])
    expect((await backend.read(key))!.files.get('README.md')!.checkedAt).toBeGreaterThan(1)
  })

  it('failed: a file of the index is gone from the store (and nothing is written back)', async () => {
    const { ctx, backend, writes, key, index } = await setup()
    const [, gone] = [...index.files][0]!
    fs.rmSync(contentPathFor(ctx.root, gone.digest, gone.mode))
    expect(await usableIndex(ctx, backend, key, true)).toEqual({ status: 'failed' })
    expect(writes).toEqual([])
  })

  it('absent: no index under the key', async () => {
    const { ctx, backend } = await setup()
    expect(await usableIndex(ctx, backend, 'sha512-AAAA\tnone@1.0.0', true)).toEqual({ status: 'absent' })
  })
})
