// A process killed mid-write (OOM killer, Ctrl-C twice, a CI timeout) must not leave a truncated file at a content
// path, where every later install would link it. Only its temp file may remain.
import fs from 'node:fs'
import path from 'node:path'
import { expect, it } from 'vitest'
import { openStore } from '../../lib/index.js'
import { runFixture } from '../helpers/child.js'
import { contentOf, sha512Hex } from '../helpers/content.js'
import { listFiles, tempDir } from '../helpers/tmp.js'

it('SIGKILL mid-write leaves no partial file at any content path, only a temp file', async () => {
  const dir = tempDir()
  const size = 48 * 1024 * 1024
  const child = runFixture('streamForever.ts', [dir, 'killed', String(size)])
  await child.line(l => l === 'HALF')
  child.proc.kill('SIGKILL')
  expect((await child.exited).signal).toBe('SIGKILL')

  const root = path.join(dir, 'v11')
  expect(listFiles(path.join(root, 'files'))).toEqual([])
  const leftovers = listFiles(path.join(root, 'tmp'))
  expect(leftovers).toHaveLength(1)
  expect(leftovers[0]).toMatch(/\.cas-tmp$/)
  expect(fs.statSync(path.join(root, 'tmp', leftovers[0]!)).size).toBeLessThan(size)

  // The store is fine: the same content can be added afterwards, and its lock was not left held.
  const store = await openStore(dir)
  const data = contentOf('killed', 0, size)
  const added = await store.ensureFile(data, { mode: 0o644 })
  expect(added.filePath).toBe(store.filePathFor(sha512Hex(data), 0o644))
  expect(fs.statSync(added.filePath).size).toBe(size)
  await store.close()
})
