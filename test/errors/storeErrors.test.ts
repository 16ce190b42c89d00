// Every failure the store meets in a damaged or hostile store is a CasError with a code and a message that says
// what to do: never a raw errno, a TypeError, a "This is a bug" stack, or a false "not in the store".
import { execFile } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import { openStore, packageIndexKey } from '../../lib/index.js'
import { runCas } from '../helpers/cas.js'
import { runFixture } from '../helpers/child.js'
import { sha512Hex } from '../helpers/content.js'
import { sriOf } from '../helpers/pnpm.js'
import { tempDir } from '../helpers/tmp.js'

const repoRoot = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', '..')
// Root reads anything: as root, the child runs without the capabilities that bypass file permissions (setpriv
// drops them from its bounding set), so a mode-000 folder really is unreadable to it.
const unprivileged = process.getuid?.() === 0 ? ['setpriv', '--bounding-set', '-dac_override,-dac_read_search'] : []

async function casUnprivileged (args: string[]): Promise<{ code: number, stdout: string, stderr: string }> {
  const command = [...unprivileged, process.execPath, '--import', 'tsx', path.join(repoRoot, 'lib', 'cli', 'cas.ts'), ...args]
  return await new Promise(resolve => {
    execFile(command[0]!, command.slice(1), { cwd: repoRoot }, (err, stdout, stderr) => {
      resolve({ code: err === null ? 0 : typeof err.code === 'number' ? err.code : 1, stdout, stderr })
    })
  })
}

describe('an unreadable files/<2 hex>/ folder', () => {
  it('ensureFile, cas stat, cas prune and cas cat fail with ERR_CAS_FILE_ACCESS naming it', async () => {
    const dir = tempDir()
    const store = await openStore(dir)
    const other = await store.ensureFile(Buffer.from('readable'), { mode: 0o644 })
    await store.writePackageIndex(packageIndexKey(sriOf(Buffer.from('x')), 'x@1.0.0'), {
      algo: 'sha512', files: new Map([['a', { digest: other.digest, mode: 0o644, size: other.size, checkedAt: other.checkedAt }]]),
    })
    const text = 'lands in a folder nobody may read'
    const digest = sha512Hex(text)
    const bucket = path.join(store.root, 'files', digest.slice(0, 2))
    fs.mkdirSync(bucket, { recursive: true })
    fs.writeFileSync(path.join(bucket, digest.slice(2)), text)
    fs.chmodSync(bucket, 0o000)
    await store.close()
    try {
      const child = runFixture('ensureOne.ts', [dir, text], {}, unprivileged)
      expect(JSON.parse(await child.line(l => l.startsWith('{')))).toMatchObject({
        code: 'ERR_CAS_FILE_ACCESS', path: path.join(bucket, digest.slice(2)), message: expect.stringMatching(/EACCES.*permissions/),
      })
      for (const args of [['stat'], ['prune', '--grace', '0'], ['cat', digest]]) {
        const result = await casUnprivileged([...args, '--store', dir])
        expect(result.code).toBe(2)
        expect(result.stderr).toMatch(/EACCES\. Check its permissions.*\(ERR_CAS_FILE_ACCESS\)/)
        expect(result.stderr).not.toMatch(/This is a bug|not in/)
      }
    } finally {
      fs.chmodSync(bucket, 0o755)
    }
  }, 60_000)
})

describe('other damage', () => {
  it('cas cat of a content path that is a folder: ERR_CAS_NOT_A_FILE, no stack', async () => {
    const dir = tempDir()
    const store = await openStore(dir)
    const digest = sha512Hex('a folder stands here')
    fs.mkdirSync(store.filePathFor(digest, 0o644), { recursive: true })
    await store.close()
    const result = await runCas(['cat', digest, '--store', dir])
    expect(result.code).toBe(2)
    expect(result.stderr).toMatch(/is not a regular file.*remove it.*\(ERR_CAS_NOT_A_FILE\)/)
    expect(result.stderr).not.toMatch(/EISDIR|This is a bug/)
  }, 60_000)

  it('ensureFile(buffer) without options: ERR_CAS_INVALID_ARGUMENT, not a TypeError', async () => {
    const store = await openStore(tempDir())
    await expect((store.ensureFile as (c: Buffer) => Promise<unknown>)(Buffer.from('x'))).rejects.toMatchObject({ code: 'ERR_CAS_INVALID_ARGUMENT', message: expect.stringMatching(/mode: 0o644/) })
    await store.close()
  })

  it('cas add --key <bad> refuses before adding anything (no orphans)', async () => {
    const dir = tempDir()
    const pkg = tempDir()
    const tgz = path.join(pkg, 'p.tgz')
    const { makeTarball } = await import('../helpers/tarball.js')
    fs.writeFileSync(tgz, makeTarball([{ path: 'package/package.json', body: '{"name":"p","version":"1.0.0"}' }]))
    const result = await runCas(['add', tgz, '--key', 'not a key', '--store', dir])
    expect(result.code).toBe(2)
    expect(result.stderr).toMatch(/--key: Not a package index key.*ERR_CAS_USAGE/)
    expect(fs.existsSync(dir) ? fs.readdirSync(dir) : []).toEqual([])
  }, 60_000)
})
