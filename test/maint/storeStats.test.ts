// storeStats and referencedContent in this process (the CLI's `cas stat` runs them in a child, where a mutation
// test cannot see them): what counts as a file, a reference, a shared file and an orphan, and what an unreadable
// index does to a count (goes on) and to a removal (stops it).
import fs from 'node:fs'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { openStore, packageIndexKey, type FileInfo, type Store } from '../../lib/index.js'
import { IndexCorruptError } from '../../lib/errors.js'
import { referencedContent } from '../../lib/maint/referencedContent.js'
import type { IndexBackend } from '../../lib/pkgIndex/backend.js'
import { sriOf } from '../helpers/pnpm.js'
import { insertRawRow } from '../helpers/sqlite.js'
import { tempDir } from '../helpers/tmp.js'

const key = (name: string): string => packageIndexKey(sriOf(Buffer.from(name)), `${name}@1.0.0`)

async function add (store: Store, body: string, mode = 0o644): Promise<FileInfo> {
  const added = await store.ensureFile(Buffer.from(body), { mode })
  return { digest: added.digest, mode, size: added.size, checkedAt: added.checkedAt }
}

/**
 * Three packages: `a` and `b` share `shared` (6 bytes) and each has a file of its own; `c` names `run` executable
 * (3 bytes). On disk besides: `run` not executable (same bytes, another content path, unreferenced), an orphan
 * (`orphan!`, 7 bytes) and a stray that is not content.
 */
async function seeded (): Promise<Store> {
  const store = await openStore(tempDir())
  const shared = await add(store, 'shared')
  await store.writePackageIndex(key('a'), { algo: 'sha512', files: new Map([['README', shared], ['a.js', await add(store, 'aa')]]) })
  await store.writePackageIndex(key('b'), { algo: 'sha512', files: new Map([['README', shared], ['b.js', await add(store, 'bbbb')]]) })
  await store.writePackageIndex(key('c'), { algo: 'sha512', files: new Map([['bin', await add(store, 'run', 0o755)]]) })
  await add(store, 'run')
  await add(store, 'orphan!')
  fs.writeFileSync(path.join(path.dirname(store.filePathFor(shared.digest, 0o644)), 'stray.tmp'), 'not content')
  return store
}

/** The store's index backend as referencedContent sees it, through the public listing. */
function backendOf (store: Store): IndexBackend {
  return { path: path.join(store.root, 'index.db'), list: () => store.listPackageIndexes() } as unknown as IndexBackend
}

describe('storeStats', () => {
  it('counts content files and bytes, references, shared files, saved bytes and orphans', async () => {
    const store = await seeded()
    expect(await store.storeStats()).toEqual({
      root: store.root,
      format: 'v11',
      files: 6, // shared, aa, bbbb, run (exec), run, orphan!; not the stray
      bytes: 6 + 2 + 4 + 3 + 3 + 7,
      packages: 3,
      references: 5, // README twice, a.js, b.js, bin
      referencedBytes: 6 * 2 + 2 + 4 + 3,
      sharedFiles: 1,
      savedBytes: 6,
      orphans: 2, // `run` without the exec bit is another file than the executable one
      unreadableIndexes: 0,
    })
    await store.close()
  })

  it('an unreadable index is counted apart, and the count goes on', async () => {
    const store = await seeded()
    insertRawRow(store.root, key('broken'), Buffer.from([0xc1]))
    await store.writePackageIndex(key('odd'), { algo: 'sha512', files: new Map(), sideEffects: 'not a map' as never })
    expect(await store.storeStats()).toMatchObject({ packages: 3, references: 5, unreadableIndexes: 2 })
    await store.close()
  })

  it('an empty store: all zeros', async () => {
    const store = await openStore(tempDir())
    expect(await store.storeStats()).toMatchObject({
      files: 0, bytes: 0, packages: 0, references: 0, referencedBytes: 0, sharedFiles: 0, savedBytes: 0, orphans: 0,
    })
    await store.close()
  })
})

describe('referencedContent', () => {
  it('without onUnreadable, an unreadable row throws the backend\'s own error (prune must stop there)', async () => {
    const store = await seeded()
    insertRawRow(store.root, key('broken'), Buffer.from([0xc1]))
    const listed = []
    for await (const entry of store.listPackageIndexes()) if (entry.key === key('broken')) listed.push(entry.error)
    const thrown = await referencedContent(backendOf(store)).catch((err: unknown) => err)
    expect(thrown).toBeInstanceOf(IndexCorruptError)
    expect((thrown as Error).message).toBe(listed[0]!.message)
    await store.close()
  })

  it('an entry without index and without error is still unreadable, named by its key', async () => {
    const backend = {
      path: '/x/index.db',
      async * list () { yield { key: 'k1' } },
    } as unknown as IndexBackend
    await expect(referencedContent(backend)).rejects.toThrow(/A package index in \/x\/index\.db is unreadable: the index "k1" is unreadable/)
    const seen: string[] = []
    expect(await referencedContent(backend, undefined, k => { seen.push(k) })).toEqual({ uses: new Map(), packages: 0 })
    expect(seen).toEqual(['k1'])
  })

  it('an index whose sideEffects cannot be understood throws, or goes to onUnreadable', async () => {
    const store = await openStore(tempDir())
    await store.writePackageIndex(key('odd'), { algo: 'sha512', files: new Map(), sideEffects: 'not a map' as never })
    await expect(referencedContent(backendOf(store))).rejects.toMatchObject({
      code: 'ERR_CAS_INDEX_CORRUPT',
      message: expect.stringContaining(`the index ${JSON.stringify(key('odd'))} cannot be understood (its sideEffects is not a map)`),
    })
    // One index is damaged, not the file: the message says so (and to run verify --fix), and keeps the cause.
    const thrown = await referencedContent(backendOf(store)).then(() => new Error('resolved'), (err: unknown) => err as Error)
    expect(thrown.message).toMatch(/^A package index in .* is unreadable: .* Run `cas verify --fix`/)
    expect((thrown.cause as Error).message).toBe('its sideEffects is not a map')
    const seen: Array<[string, string]> = []
    const result = await referencedContent(backendOf(store), undefined, (k, err) => { seen.push([k, err.code]) })
    expect(result.packages).toBe(0)
    expect(seen).toEqual([[key('odd'), 'ERR_CAS_INDEX_CORRUPT']])
    await store.close()
  })

  it('stops with ERR_CAS_INTERRUPTED when the signal is aborted while it reads', async () => {
    const store = await seeded()
    await expect(referencedContent(backendOf(store), { aborted: true })).rejects.toMatchObject({
      code: 'ERR_CAS_INTERRUPTED', message: expect.stringContaining('Reading the package indexes was interrupted'),
    })
    await store.close()
  })
})
