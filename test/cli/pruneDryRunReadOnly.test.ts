// `cas prune --dry-run` only reads, so on a read-only mount (a CI cache, a Docker layer) it says what would go,
// as verify, stat and cat do, rather than fail with ERR_CAS_READ_ONLY. From a second read of the maintenance code.
import { execFile } from 'node:child_process'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { expect, it } from 'vitest'
import { openStore, packageIndexKey } from '../../lib/index.js'
import { sriOf } from '../helpers/pnpm.js'
import { readOnlyWrapper } from '../helpers/readOnlyMount.js'
import { tempDir } from '../helpers/tmp.js'

const repoRoot = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', '..')

async function casReadOnly (dir: string, args: string[]): Promise<{ code: number, stdout: string, stderr: string }> {
  const command = [...readOnlyWrapper(dir), process.execPath, '--import', 'tsx', path.join(repoRoot, 'lib', 'cli', 'cas.ts'), ...args]
  return await new Promise(resolve => {
    execFile(command[0]!, command.slice(1), { cwd: repoRoot }, (err, stdout, stderr) => {
      resolve({ code: err === null ? 0 : typeof err.code === 'number' ? err.code : 1, stdout, stderr })
    })
  })
}

it('cas prune --dry-run on a store on a read-only mount says what would be removed (exit 0)', async () => {
  const dir = tempDir()
  const store = await openStore(dir)
  const used = await store.ensureFile(Buffer.from('used'), { mode: 0o644 })
  await store.writePackageIndex(packageIndexKey(sriOf(Buffer.from('p')), 'p@1.0.0'), {
    algo: 'sha512', files: new Map([['a', { digest: used.digest, mode: 0o644, size: used.size, checkedAt: used.checkedAt }]]),
  })
  await store.ensureFile(Buffer.from('orphan'), { mode: 0o644 })
  await store.close()
  // The library's dry run on a store opened read-only: the same answer is expected of the command.
  const ro = await openStore(dir, { readOnly: true })
  expect(await ro.pruneStore({ dryRun: true, graceMs: 0 }))
    .toMatchObject({ dryRun: true, removed: { count: 1 }, referenced: 1 })
  await ro.close()

  const run = await casReadOnly(dir, ['prune', '--store', dir, '--dry-run', '--grace', '0', '--json'])
  expect(run.stderr).toBe('')
  expect(run.code).toBe(0)
  expect(JSON.parse(run.stdout)).toMatchObject({ dryRun: true, removed: { count: 1 }, referenced: 1 })
}, 60_000)
