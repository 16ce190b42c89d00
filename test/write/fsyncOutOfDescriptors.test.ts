// With `fsync: true`, the writer syncs the content's folder after the rename, through a synchronous open that
// graceful-fs does not cover. Out of descriptors (EMFILE) that open must wait for one: the file is already in
// place, and failing then would report a write that happened as one that did not.
import { expect, it } from 'vitest'
import { runFixture } from '../helpers/child.js'
import { tempDir } from '../helpers/tmp.js'
import { requireTool } from '../helpers/tools.js'

it('the folder\'s open for its fsync meets EMFILE: ensureFile waits for a descriptor and succeeds', async () => {
  requireTool('sh', 'dash', ['-c', 'ulimit -n 64'], 'it lowers the child\'s descriptor limit with `ulimit -n`')
  const child = runFixture('storeOutOfDescriptors.ts', [tempDir(), 'fsync'], {},
    ['sh', '-c', 'ulimit -n 64 && exec "$@"', 'sh'])
  const report = JSON.parse(await child.line(l => l.startsWith('{')))
  expect(report).toEqual({ stored: true, emfile: { openSync: 1 } })
})
