// A call that waits for a free descriptor (EMFILE) must not hold the store's close() for the rest of its bound
// (60 s): once the store is closing, the wait gives up at its next try and the call fails with the EMFILE it met,
// as a call waiting for another process's lock gives up.
import fs from 'node:fs'
import path from 'node:path'
import { afterEach, expect, it, vi } from 'vitest'
import { openStore } from '../../lib/index.js'
import { tempDir } from '../helpers/tmp.js'

afterEach(() => { vi.restoreAllMocks() })

it('close() while an add waits for a descriptor: the add fails with its EMFILE and the close goes through', async () => {
  const pkg = tempDir()
  fs.writeFileSync(path.join(pkg, 'package.json'), '{"name":"x"}')
  const store = await openStore(tempDir(), { threads: 0 })
  const real = fs.readdirSync
  let metEmfile!: () => void
  const waiting = new Promise<void>(resolve => { metEmfile = resolve })
  // Every listing of the folder meets EMFILE, for as long as the test runs: descriptors never come back.
  vi.spyOn(fs, 'readdirSync').mockImplementation(((dir: fs.PathLike, ...rest: unknown[]) => {
    if (dir === fs.realpathSync(pkg)) {
      metEmfile()
      throw Object.assign(new Error('EMFILE: too many open files, scandir'), { code: 'EMFILE' })
    }
    return (real as (...args: unknown[]) => unknown)(dir, ...rest)
  }) as typeof fs.readdirSync)
  const add = store.addFilesFromDir(pkg).then(() => 'added', (err: Error & { code?: string }) => [err.code, err.message])
  await waiting
  await store.close()
  expect(await add).toEqual(['ERR_CAS_FILE_ACCESS', expect.stringContaining('EMFILE')])
}, 20_000) // without the give-up, close() waits for the add's whole 60 s bound
