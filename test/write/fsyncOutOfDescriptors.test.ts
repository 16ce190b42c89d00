// With `fsync: true`, the writer syncs the content's folder after the rename, through a synchronous open that
// graceful-fs does not cover. Out of descriptors (EMFILE) that open must wait for one: the file is already in
// place, and failing then would report a write that happened as one that did not.
import { expect, it } from 'vitest'
import { tempDir } from '../helpers/tmp.js'
import { reportUnderDescriptorLimit } from '../helpers/ulimit.js'

it('the folder\'s open for its fsync meets EMFILE: ensureFile waits for a descriptor and succeeds', async () => {
  const report = await reportUnderDescriptorLimit('storeOutOfDescriptors.ts', [tempDir(), 'fsync'])
  expect(report).toEqual({ stored: true, emfile: { openSync: 1 } })
})
