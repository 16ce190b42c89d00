// pnpm#5887, #11412: EMFILE in large monorepos. With a descriptor limit far below the number of concurrent
// writes, opens must wait for free descriptors (graceful-fs) instead of failing the install.
import { expect, it } from 'vitest'
import { tempDir } from '../helpers/tmp.js'
import { reportUnderDescriptorLimit } from '../helpers/ulimit.js'

it('400 concurrent writes under `ulimit -n 64` all succeed and verify', async () => {
  const dir = tempDir()
  const report = await reportUnderDescriptorLimit('emfile.ts', [dir, '400'])
  expect(report).toEqual({ ok: 400, passed: true, errors: [] })
})
