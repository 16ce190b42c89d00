// The import journal is created by a store's first import, with a synchronous open that graceful-fs does not
// cover. An install out of descriptors (EMFILE, many packages imported at once) must wait for one there, not fail
// the import.
import fs from 'node:fs'
import path from 'node:path'
import { expect, it } from 'vitest'
import { tempDir } from '../helpers/tmp.js'
import { reportUnderDescriptorLimit } from '../helpers/ulimit.js'

it('the journal\'s open meets EMFILE: the first import waits for a descriptor and succeeds', async () => {
  const pkg = tempDir()
  const manifest = '{"name":"journal-squeezed","version":"1.0.0"}'
  fs.writeFileSync(path.join(pkg, 'package.json'), manifest)
  fs.writeFileSync(path.join(pkg, 'index.js'), 'module.exports = 1\n')
  const target = path.join(tempDir(), 'node_modules', 'journal-squeezed')
  const report = await reportUnderDescriptorLimit('journalOutOfDescriptors.ts', [tempDir(), pkg, target])
  expect(report).toEqual({ imported: true, file: manifest, emfile: { openSync: 1 } })
})
