// pnpm#5887, #11412 (EMFILE in large monorepos), for folder adds: the walk's listings and the opens of the files it
// approved, and the read of its package.json back from the store, are synchronous, and graceful-fs (which makes the
// writer's opens wait) does not cover them. Out of descriptors, they must wait for one and try again, not fail.
import fs from 'node:fs'
import path from 'node:path'
import { expect, it } from 'vitest'
import { contentOf } from '../helpers/content.js'
import { tempDir } from '../helpers/tmp.js'
import { reportUnderDescriptorLimit } from '../helpers/ulimit.js'

it('every listing, source open and manifest read of a folder add meets EMFILE once: the add waits, all files are stored', async () => {
  const pkg = tempDir()
  fs.mkdirSync(path.join(pkg, 'lib', 'deep'), { recursive: true })
  fs.writeFileSync(path.join(pkg, 'package.json'), '{"name":"squeezed","version":"1.0.0"}')
  fs.writeFileSync(path.join(pkg, 'lib', 'a.js'), contentOf('emfile-dir', 1, 300))
  fs.writeFileSync(path.join(pkg, 'lib', 'deep', 'b.js'), contentOf('emfile-dir', 2, 5000))
  // Over the 1 MiB sync limit: its descriptor is kept open for the stream into the store.
  fs.writeFileSync(path.join(pkg, 'lib', 'big.bin'), contentOf('emfile-dir', 3, 1_200_000))
  const report = await reportUnderDescriptorLimit('folderOutOfDescriptors.ts', [tempDir(), pkg])
  expect(report).toEqual({
    files: 4, name: 'squeezed', passed: true, emfile: { readdirSync: 3, openSync: 4, readFileSync: 1 },
  })
})
