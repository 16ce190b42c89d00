// The temp-name collision (mise, conda, pnpm#6853): many tasks of one process write the same content at once.
// With a temp name made of the pid alone they open, truncate, rename or delete each other's half-written file.
import fs from 'node:fs'
import path from 'node:path'
import { Readable } from 'node:stream'
import { expect, it } from 'vitest'
import { openStore } from '../../lib/index.js'
import { contentOf, sha512Hex } from '../helpers/content.js'
import { listFiles, tempDir } from '../helpers/tmp.js'

it('200 concurrent ensureFile calls of the same content all succeed, leaving one file and no temp', async () => {
  const store = await openStore(tempDir())
  const data = contentOf('same', 1, 300_000)
  const chunks = [data.subarray(0, 100_000), data.subarray(100_000, 200_000), data.subarray(200_000)]
  const results = await Promise.allSettled(Array.from({ length: 200 }, async (_, i) =>
    await store.ensureFile(i % 2 === 0 ? data : Readable.from(chunks), { mode: 0o644 })))
  const failures = results.filter(r => r.status === 'rejected').map(r => String((r as PromiseRejectedResult).reason))
  expect(failures).toEqual([])
  const paths = new Set(results.map(r => (r as PromiseFulfilledResult<{ filePath: string }>).value.filePath))
  expect([...paths]).toEqual([store.filePathFor(sha512Hex(data), 0o644)])
  expect(listFiles(path.join(store.root, 'files'))).toHaveLength(1)
  expect(fs.readFileSync([...paths][0]!).equals(data)).toBe(true)
  expect(listFiles(path.join(store.root, 'tmp'))).toEqual([])
  await store.close()
})
