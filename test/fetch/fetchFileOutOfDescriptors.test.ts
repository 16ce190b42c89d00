// A download first lists `partial/` for bytes an earlier one left to resume, with a synchronous listing that
// graceful-fs does not cover. Out of descriptors (EMFILE) it must wait for one, not fail the download.
import { expect, it } from 'vitest'
import { tempDir } from '../helpers/tmp.js'
import { reportUnderDescriptorLimit } from '../helpers/ulimit.js'

it('the listing of partial/ meets EMFILE: fetchFile waits for a descriptor and stores the file', async () => {
  const report = await reportUnderDescriptorLimit('storeOutOfDescriptors.ts', [tempDir(), 'fetch'])
  expect(report).toEqual({ stored: true, emfile: { readdirSync: 1 } })
})
