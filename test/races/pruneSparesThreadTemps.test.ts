// Store threads write temp files but take no OS lock, so they hold no owner record of their own. `cas prune
// --grace 0` run while those temps wait for the calling thread's renames must see them as live work (the calling
// thread holds each thread's owner record for it), or the add fails with its temps gone.
import path from 'node:path'
import fs from 'node:fs'
import { expect, it } from 'vitest'
import { openStore } from '../../lib/index.js'
import { contentOf } from '../helpers/content.js'
import { gate } from '../helpers/gate.js'
import { threadsFirst } from '../helpers/threads.js'
import { listFiles, tempDir } from '../helpers/tmp.js'

it('prune --grace 0 leaves a threaded add\'s temp files alone; the add then completes', async () => {
  const src = tempDir()
  for (let i = 0; i < 100; i++) fs.writeFileSync(path.join(src, `f${i}.js`), contentOf('thr-prune', i, 800))
  const dir = tempDir()
  const handedOff = gate()
  const store = await openStore(dir, { threads: 2, _hooks: threadsFirst({ 'add:handedOff': handedOff.wait }) })
  const adding = store.addFilesFromDir(src)
  await handedOff.reached
  // The folder's 100 files (one task) wait in temp files for their renames.
  const temps = listFiles(path.join(store.root, 'tmp'))
  expect(temps.length).toBe(100)

  const pruner = await openStore(dir, { threads: 0 }) // another store instance, as another process would be
  const report = await pruner.pruneStore({ graceMs: 0, allowNoIndexes: true })
  await pruner.close()
  expect(report.tempsRemoved).toBe(0)
  expect(listFiles(path.join(store.root, 'tmp'))).toEqual(expect.arrayContaining(temps))

  handedOff.open()
  const index = await adding
  expect(index.files.size).toBe(100)
  for (const file of index.files.values()) expect(fs.existsSync(store.filePathFor(file.digest, file.mode))).toBe(true)
  await store.close()
}, 60_000)
