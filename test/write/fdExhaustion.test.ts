// pnpm#5887, #11412: EMFILE in large monorepos. With a descriptor limit far below the number of concurrent
// writes, opens must wait for free descriptors (graceful-fs) instead of failing the install.
import { expect, it } from 'vitest'
import { runFixture } from '../helpers/child.js'
import { tempDir } from '../helpers/tmp.js'
import { requireTool } from '../helpers/tools.js'

it('400 concurrent writes under `ulimit -n 64` all succeed and verify', async () => {
  requireTool('sh', 'dash', ['-c', 'ulimit -n 64'], 'it lowers the child\'s descriptor limit with `ulimit -n`')
  const dir = tempDir()
  const child = runFixture('emfile.ts', [dir, '400'], {}, ['sh', '-c', 'ulimit -n 64 && exec "$@"', 'sh'])
  const report = JSON.parse(await child.line(l => l.startsWith('{')))
  expect(report).toEqual({ ok: 400, passed: true, errors: [] })
})
