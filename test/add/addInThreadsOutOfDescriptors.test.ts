// A store thread adds a task's files (up to 512) and hands back null for any it could not add, which the calling
// thread then adds itself. Out of descriptors, a thread must hand a file back at once rather than wait for one:
// waiting up to a minute per file would hold the add, a failed add's clean-up and the store's close for hours,
// while the calling thread's own wait (once per file it redoes) is what the add needs.
import fs from 'node:fs'
import path from 'node:path'
import { afterEach, expect, it, vi } from 'vitest'
import { addApprovedFiles } from '../../lib/add/addDirInThread.js'
import type { ThreadStoreSpec } from '../../lib/threads/types.js'
import { tempDir } from '../helpers/tmp.js'

afterEach(() => {
  vi.useRealTimers()
  vi.restoreAllMocks()
})

it('a thread\'s task whose every open meets EMFILE answers null for each file without waiting', async () => {
  const dir = tempDir()
  const files = [1, 2, 3].map(i => {
    const realPath = path.join(dir, `f${i}`)
    fs.writeFileSync(realPath, `file ${i}`)
    const stat = fs.statSync(realPath)
    return { realPath, dev: stat.dev, ino: stat.ino }
  })
  const real = fs.openSync
  vi.spyOn(fs, 'openSync').mockImplementation(((file: fs.PathLike, ...rest: unknown[]) => {
    if (typeof file === 'string' && file.startsWith(dir)) {
      throw Object.assign(new Error('EMFILE: too many open files'), { code: 'EMFILE' })
    }
    return (real as (...args: unknown[]) => number)(file, ...rest)
  }) as typeof fs.openSync)
  // Fake clocks: any wait for a descriptor would need time to pass, and none is let pass.
  vi.useFakeTimers()
  const results = await addApprovedFiles({ store: {} as ThreadStoreSpec, files })
  expect(results).toEqual([null, null, null])
  expect(vi.getTimerCount()).toBe(0)
})
