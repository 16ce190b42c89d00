// A store that cannot be written (a read-only mount) is read and verified; every write fails ERR_CAS_READ_ONLY,
// and nothing is created. The read-only mount is real: a bind mount remounted ro in a private mount namespace.
import { execFile } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import { openStore, packageIndexKey, type PackageIndex } from '../../lib/index.js'
import { runFixture } from '../helpers/child.js'
import { sriOf } from '../helpers/pnpm.js'
import { readOnlyWrapper } from '../helpers/readOnlyMount.js'
import { listFiles, tempDir } from '../helpers/tmp.js'

const repoRoot = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', '..')
const KEY = packageIndexKey(sriOf(Buffer.from('ro')), 'ro@1.0.0')

async function seededStore (): Promise<{ dir: string, root: string, index: PackageIndex }> {
  const dir = tempDir()
  const store = await openStore(dir)
  const index: PackageIndex = { algo: 'sha512', files: new Map() }
  for (const [name, body] of [['a.js', 'a'], ['b.js', 'bb']] as const) {
    const added = await store.ensureFile(Buffer.from(body), { mode: 0o644 })
    index.files.set(name, { digest: added.digest, mode: 0o644, size: added.size, checkedAt: added.checkedAt })
  }
  await store.writePackageIndex(KEY, index)
  await store.close()
  return { dir, root: path.join(dir, 'v11'), index }
}

function snapshot (dir: string): string[] {
  return (fs.readdirSync(dir, { recursive: true }) as string[]).sort()
}

async function casReadOnly (dir: string, args: string[]): Promise<{ code: number, stdout: string, stderr: string }> {
  const command = [...readOnlyWrapper(dir), process.execPath, '--import', 'tsx', path.join(repoRoot, 'lib', 'cli', 'cas.ts'), ...args]
  return await new Promise(resolve => {
    execFile(command[0]!, command.slice(1), { cwd: repoRoot }, (err, stdout, stderr) => {
      resolve({ code: err === null ? 0 : typeof err.code === 'number' ? err.code : 1, stdout, stderr })
    })
  })
}

describe('a store on a read-only mount', () => {
  it('is read and verified through openStore({ readOnly: true }); every write fails ERR_CAS_READ_ONLY', async () => {
    const { dir, index } = await seededStore()
    // A corrupt file: reported, and not removed (it could not be, and a read-only open never tries).
    const b = index.files.get('b.js')!
    const bPath = path.join(dir, 'v11', 'files', b.digest.slice(0, 2), b.digest.slice(2))
    fs.writeFileSync(bPath, 'XX')
    fs.utimesSync(bPath, new Date(b.checkedAt! + 60_000), new Date(b.checkedAt! + 60_000)) // as a later write leaves it
    const before = snapshot(dir)
    const child = runFixture('readOnlyStore.ts', [dir, KEY], {}, readOnlyWrapper(dir))
    const report = JSON.parse(await child.line(l => l.startsWith('{')))
    expect(report).toMatchObject({
      plainOpen: 'ERR_CAS_READ_ONLY',
      newStore: 'ERR_CAS_READ_ONLY',
      files: 2,
      listed: 1,
      integrity: { passed: false, corrupt: ['b.js'], removed: [] },
      verify: { healthy: false, problems: [['b.js', 'corrupt', 'none']] },
      stats: { packages: 1, files: 2 },
      ensureFile: 'ERR_CAS_READ_ONLY',
      writeIndex: 'ERR_CAS_READ_ONLY',
      fix: 'ERR_CAS_READ_ONLY',
      prune: 'ERR_CAS_READ_ONLY',
      addDir: 'ERR_CAS_READ_ONLY',
      content: 'a',
    })
    expect(snapshot(dir)).toEqual(before)
  }, 60_000)

  it('cas verify, stat and cat open it read-only by themselves; verify --fix says it cannot', async () => {
    const { dir, index } = await seededStore()
    const verify = await casReadOnly(dir, ['verify', '--store', dir, '--full'])
    expect(verify.stderr).toBe('')
    expect(verify.code).toBe(0)
    expect(verify.stdout).toMatch(/Healthy/)
    const stat = await casReadOnly(dir, ['stat', '--store', dir, '--json'])
    expect(JSON.parse(stat.stdout)).toMatchObject({ packages: 1, files: 2 })
    const cat = await casReadOnly(dir, ['cat', '--store', dir, index.files.get('a.js')!.digest])
    expect(cat).toMatchObject({ code: 0, stdout: 'a' })
    const fix = await casReadOnly(dir, ['verify', '--store', dir, '--fix'])
    expect(fix.code).toBe(2)
    expect(fix.stderr).toMatch(/read-only.*ERR_CAS_READ_ONLY/s)
  }, 60_000)
})

describe('openStore({ readOnly: true }) on a writable store', () => {
  it('creates nothing in it (no tmp/, locks/, no -wal/-shm), and reads what is there', async () => {
    const { dir, root } = await seededStore()
    fs.rmSync(path.join(root, 'tmp'), { recursive: true })
    fs.rmSync(path.join(root, 'locks'), { recursive: true })
    const before = snapshot(dir)
    const store = await openStore(dir, { readOnly: true })
    expect((await store.readPackageIndex(KEY))?.files.size).toBe(2)
    expect(await store.verifyStore()).toMatchObject({ healthy: true, packagesChecked: 1 })
    await store.close()
    expect(snapshot(dir)).toEqual(before)
    expect(listFiles(root).some(f => f.includes('tmp') || f.includes('locks'))).toBe(false)
  })

  it('refuses a folder with no store rather than creating one', async () => {
    const dir = tempDir()
    await expect(openStore(path.join(dir, 'nothing'), { readOnly: true })).rejects.toMatchObject({ code: 'ERR_CAS_INVALID_ARGUMENT' })
    expect(fs.readdirSync(dir)).toEqual([])
  })
})
