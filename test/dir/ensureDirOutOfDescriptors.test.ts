// With `fsync: true`, ensureDir syncs the completion marker, the entry's temp folder and, after the rename, the
// folder that holds the entry, each through a synchronous open that graceful-fs does not cover. Out of descriptors
// (EMFILE) each open must wait for one: one EMFILE must not drop a complete entry.
import fs from 'node:fs'
import path from 'node:path'
import { afterEach, expect, it, vi } from 'vitest'
import { COMPLETE_MARKER } from '../../lib/dir/ensureDir.js'
import { dirEntryPaths, isTempDirName } from '../../lib/dir/dirLayout.js'
import { openStore } from '../../lib/index.js'
import { tempDir } from '../helpers/tmp.js'

afterEach(() => { vi.restoreAllMocks() })

/**
 * ensureDir('k') with the first open that `squeezed` picks failing with EMFILE; what came of it, and how many
 * opens of that path then succeeded (the sync was made). The last sync comes after the rename, when a failure
 * would not show in the result (the entry is complete): only `synced` tells that it was made.
 */
async function ensureDirWithOneEmfile (squeezed: (file: string, parent: string) => boolean): Promise<unknown> {
  const store = await openStore(tempDir(), { threads: 0, fsync: true })
  const { parent } = dirEntryPaths(store.root, 'k')
  const real = fs.openSync
  let thrown = 0
  let synced = 0
  vi.spyOn(fs, 'openSync').mockImplementation(((file: fs.PathLike, ...rest: unknown[]) => {
    const picked = typeof file === 'string' && squeezed(file, parent)
    if (picked && thrown === 0) {
      thrown++
      throw Object.assign(new Error(`EMFILE: too many open files, open '${file}'`), { code: 'EMFILE' })
    }
    const fd = (real as (...args: unknown[]) => number)(file, ...rest)
    if (picked) synced++
    return fd
  }) as typeof fs.openSync)
  const result = await store.ensureDir('k', dir => { fs.writeFileSync(path.join(dir, 'a.txt'), 'a') }).then(
    dir => ({ complete: fs.readFileSync(path.join(dir, 'a.txt'), 'utf8') === 'a', thrown, synced }),
    (err: NodeJS.ErrnoException) => ({ error: err.code, thrown, synced }))
  vi.restoreAllMocks()
  await store.close()
  return result
}

it.each([
  ['the completion marker', (file: string) => file.endsWith(COMPLETE_MARKER)],
  ['the entry\'s temp folder', (file: string) => isTempDirName(path.basename(file))],
  ['the folder that holds the entry (after the rename)', (file: string, parent: string) => file === parent],
])('the open that fsyncs %s meets EMFILE: the entry waits for a descriptor and is made', async (_what, squeezed) => {
  expect(await ensureDirWithOneEmfile(squeezed)).toEqual({ complete: true, thrown: 1, synced: 1 })
})
