// index.db gone or emptied next to content. Empty (a failed copy, a full disk) is a lost index: reported, left as
// it is. Missing is what the lost-index advice says to do to start over: a writable open makes a new one, installs
// write their indexes again and `cas prune --force` removes what nothing references; while the runs that only
// report (`cas verify` without --fix, `cas stat`) create nothing. From two second reads of the maintenance code.
import fs from 'node:fs'
import path from 'node:path'
import { expect, it } from 'vitest'
import { openStore, packageIndexKey } from '../../lib/index.js'
import { runCas } from '../helpers/cas.js'
import { sriOf } from '../helpers/pnpm.js'
import { tempDir } from '../helpers/tmp.js'

async function storeWithOnePackage (): Promise<{ dir: string, root: string }> {
  const dir = tempDir()
  const store = await openStore(dir, { threads: 0 })
  const used = await store.ensureFile(Buffer.from('used'), { mode: 0o644 })
  await store.writePackageIndex(packageIndexKey(sriOf(Buffer.from('p')), 'p@1.0.0'), {
    algo: 'sha512', files: new Map([['a', { digest: used.digest, mode: 0o644, size: used.size, checkedAt: used.checkedAt }]]),
  })
  await store.close()
  const root = path.join(dir, 'v11')
  for (const f of ['index.db-wal', 'index.db-shm']) fs.rmSync(path.join(root, f), { force: true })
  return { dir, root }
}

it('an empty index.db next to content is a lost index: cas verify says to delete it to start over, exit 1, left as it is', async () => {
  const { dir, root } = await storeWithOnePackage()
  fs.writeFileSync(path.join(root, 'index.db'), '')
  const run = await runCas(['verify', '--store', dir, '--json'])
  expect(run.code).toBe(1)
  expect(JSON.parse(run.stdout)).toMatchObject({ healthy: false, indexLost: true })
  expect(fs.statSync(path.join(root, 'index.db')).size).toBe(0)
  expect((await runCas(['verify', '--store', dir])).stdout).toMatch(/to start over, delete it/)
}, 60_000)

it('a missing index.db: cas verify and cas stat report the content as unreferenced and create nothing', async () => {
  const { dir, root } = await storeWithOnePackage()
  fs.rmSync(path.join(root, 'index.db'))
  const verify = await runCas(['verify', '--store', dir, '--json'])
  expect(verify.code).toBe(0)
  expect(JSON.parse(verify.stdout)).toMatchObject({ packagesChecked: 0, orphans: { count: 1 } })
  expect((await runCas(['stat', '--store', dir])).code).toBe(0)
  expect(fs.existsSync(path.join(root, 'index.db'))).toBe(false)
}, 60_000)

it('a missing index.db, as the advice says: an install writes its index again, and cas prune --force cleans up', async () => {
  const { dir, root } = await storeWithOnePackage()
  fs.rmSync(path.join(root, 'index.db'))
  const store = await openStore(dir, { threads: 0 })
  const f = await store.ensureFile(Buffer.from('again'), { mode: 0o644 })
  const key = packageIndexKey(sriOf(Buffer.from('q')), 'q@1.0.0')
  await store.writePackageIndex(key, { algo: 'sha512', files: new Map([['b', { digest: f.digest, mode: 0o644, size: f.size, checkedAt: f.checkedAt }]]) })
  expect(await store.readPackageIndex(key)).toBeDefined()
  await store.close()
  const prune = await runCas(['prune', '--store', dir, '--force', '--grace', '0', '--json'])
  expect(prune.code).toBe(0)
  expect(JSON.parse(prune.stdout)).toMatchObject({ removed: { count: 1 }, referenced: 1 }) // p's file went, q's stayed
}, 60_000)
