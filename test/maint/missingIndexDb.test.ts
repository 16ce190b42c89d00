// A v11 store whose index.db is missing (deleted, not restored) next to content is a lost index, as an empty one
// is: `cas verify` reports it (exit 1) and creates nothing. It used to create an empty index.db and call the
// store healthy. From a second read of the maintenance code.
import fs from 'node:fs'
import path from 'node:path'
import { expect, it } from 'vitest'
import { openStore, packageIndexKey } from '../../lib/index.js'
import { runCas } from '../helpers/cas.js'
import { sriOf } from '../helpers/pnpm.js'
import { tempDir } from '../helpers/tmp.js'

async function storeWithOnePackage (): Promise<string> {
  const dir = tempDir()
  const store = await openStore(dir, { threads: 0 })
  const used = await store.ensureFile(Buffer.from('used'), { mode: 0o644 })
  await store.writePackageIndex(packageIndexKey(sriOf(Buffer.from('p')), 'p@1.0.0'), {
    algo: 'sha512', files: new Map([['a', { digest: used.digest, mode: 0o644, size: used.size, checkedAt: used.checkedAt }]]),
  })
  await store.close()
  return dir
}

it('cas verify on a store whose index.db is missing next to content: reports the lost index, creates no index.db', async () => {
  const dir = await storeWithOnePackage()
  const root = path.join(dir, 'v11')
  for (const f of ['index.db', 'index.db-wal', 'index.db-shm']) fs.rmSync(path.join(root, f), { force: true })

  const run = await runCas(['verify', '--store', dir, '--json'])
  const report = JSON.parse(run.stdout) as { healthy: boolean, indexLost?: boolean }
  expect({ code: run.code, healthy: report.healthy, indexLost: report.indexLost === true, indexDbCreated: fs.existsSync(path.join(root, 'index.db')) })
    .toEqual({ code: 1, healthy: false, indexLost: true, indexDbCreated: false })
}, 60_000)

it('for comparison: the same store with a zero-byte index.db is reported lost (exit 1) and left as it is', async () => {
  const dir = await storeWithOnePackage()
  const root = path.join(dir, 'v11')
  for (const f of ['index.db-wal', 'index.db-shm']) fs.rmSync(path.join(root, f), { force: true })
  fs.writeFileSync(path.join(root, 'index.db'), '')
  const run = await runCas(['verify', '--store', dir, '--json'])
  expect(run.code).toBe(1)
  expect(JSON.parse(run.stdout)).toMatchObject({ healthy: false, indexLost: true })
  expect(fs.statSync(path.join(root, 'index.db')).size).toBe(0)
}, 60_000)
