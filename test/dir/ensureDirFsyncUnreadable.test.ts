// With openStore(dir, { fsync: true }), ensureDir syncs every file and folder `fill` left before marking the entry
// complete. A fill may leave what its owner cannot read: a write-only log (0o200) is synced through a write-only
// descriptor; a file or folder of mode 000 cannot be opened at all and is left to the kernel's writeback. Either
// way the entry is made, as it is without the option. As root, the child runs without the capabilities that
// bypass file permissions (setpriv drops them from its bounding set, as in test/errors/storeErrors.test.ts), so
// the modes really are enforced.
import { execFile } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { expect, it } from 'vitest'
import { tempDir } from '../helpers/tmp.js'
import { requireTool } from '../helpers/tools.js'

const repoRoot = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', '..')
const unprivileged = process.getuid?.() === 0 ? ['setpriv', '--bounding-set', '-dac_override,-dac_read_search'] : []

const CHILD = `
import fs from 'node:fs'
import path from 'node:path'
import { openStore } from ${JSON.stringify(path.join(repoRoot, 'lib', 'index.ts'))}
const [storeDir, fsync] = process.argv.slice(2)
const store = await openStore(storeDir, { fsync: fsync === 'true' })
try {
  const entry = await store.ensureDir('git+https://example.test/repo#abc', dir => {
    fs.writeFileSync(path.join(dir, 'write-only.log'), 'x')
    fs.chmodSync(path.join(dir, 'write-only.log'), 0o200)
    fs.writeFileSync(path.join(dir, 'no-access.bin'), 'y')
    fs.chmodSync(path.join(dir, 'no-access.bin'), 0)
    fs.mkdirSync(path.join(dir, 'sealed'))
    fs.writeFileSync(path.join(dir, 'sealed', 'inside.txt'), 'z')
    fs.chmodSync(path.join(dir, 'sealed'), 0)
  })
  console.log(JSON.stringify({ ok: true, entries: fs.readdirSync(entry).sort() }))
} catch (err) {
  console.log(JSON.stringify({ code: err.code, message: err.message }))
}
await store.close()
`

/** fsyncPathAsync, unprivileged, on a write-only file, a file and a folder of mode 000, and a plain file. */
const SYNC_CHILD = `
import fs from 'node:fs'
import path from 'node:path'
import { fsyncPathAsync } from ${JSON.stringify(path.join(repoRoot, 'lib', 'util', 'fs.ts'))}
const [dir] = process.argv.slice(2)
const results = {}
for (const name of ['write-only.log', 'no-access.bin', 'sealed', 'plain.txt']) {
  results[name] = await fsyncPathAsync(path.join(dir, name))
}
console.log(JSON.stringify(results))
`

async function ensureDirUnprivileged (fsync: boolean): Promise<unknown> {
  const scratch = tempDir()
  return await runUnprivileged(CHILD, [path.join(scratch, 'store'), String(fsync)])
}

async function runUnprivileged (source: string, args: string[]): Promise<unknown> {
  if (unprivileged.length > 0) {
    requireTool('setpriv', 'util-linux', [...unprivileged.slice(1), 'true'], 'root must drop its file-permission bypass')
  }
  const script = path.join(tempDir(), 'child.mts')
  fs.writeFileSync(script, source)
  const command = [...unprivileged, process.execPath, '--import', 'tsx', script, ...args]
  const stdout = await new Promise<string>((resolve, reject) => {
    execFile(command[0]!, command.slice(1), { cwd: repoRoot }, (err, out, stderr) => {
      if (err !== null) reject(new Error(`${err.message}\n${stderr}`))
      else resolve(out)
    })
  })
  return JSON.parse(stdout.trim().split('\n').at(-1)!)
}

const made = { ok: true, entries: ['.cas-complete', 'no-access.bin', 'sealed', 'write-only.log'] }

it('a fill that leaves what its owner may not read makes its entry without fsync (the baseline)', async () => {
  expect(await ensureDirUnprivileged(false)).toEqual(made)
}, 30_000)

it('and with fsync: true too: what cannot be opened is not what fails the entry', async () => {
  expect(await ensureDirUnprivileged(true)).toEqual(made)
}, 30_000)

it('fsyncPathAsync syncs what it may open for reading or only for writing, and says so; false for mode 000', async () => {
  const dir = tempDir()
  fs.writeFileSync(path.join(dir, 'write-only.log'), 'x')
  fs.chmodSync(path.join(dir, 'write-only.log'), 0o200)
  fs.writeFileSync(path.join(dir, 'no-access.bin'), 'y')
  fs.chmodSync(path.join(dir, 'no-access.bin'), 0)
  fs.mkdirSync(path.join(dir, 'sealed'), { mode: 0 })
  fs.writeFileSync(path.join(dir, 'plain.txt'), 'z')
  expect(await runUnprivileged(SYNC_CHILD, [dir])).toEqual({
    'write-only.log': true, 'no-access.bin': false, sealed: false, 'plain.txt': true,
  })
}, 30_000)
