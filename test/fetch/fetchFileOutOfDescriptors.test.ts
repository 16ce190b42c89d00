// A download first lists `partial/` for bytes an earlier one left to resume, with a synchronous listing that
// graceful-fs does not cover. Out of descriptors (EMFILE) it must wait for one, not fail the download.
import { expect, it } from 'vitest'
import { runFixture } from '../helpers/child.js'
import { tempDir } from '../helpers/tmp.js'
import { requireTool } from '../helpers/tools.js'

it('the listing of partial/ meets EMFILE: fetchFile waits for a descriptor and stores the file', async () => {
  requireTool('sh', 'dash', ['-c', 'ulimit -n 64'], 'it lowers the child\'s descriptor limit with `ulimit -n`')
  const child = runFixture('storeOutOfDescriptors.ts', [tempDir(), 'fetch'], {},
    ['sh', '-c', 'ulimit -n 64 && exec "$@"', 'sh'])
  const report = JSON.parse(await child.line(l => l.startsWith('{')))
  expect(report).toEqual({ stored: true, emfile: { readdirSync: 1 } })
})
