// A reader that stops early (`| head`) closes cas's stdout: every command ends quietly with exit 0, never with an
// EPIPE stack or "unexpected failure". Each output here is far larger than a pipe's buffer (64 KiB), so cas is
// still writing when head exits, and the write really fails with EPIPE.
import crypto from 'node:crypto'
import fs from 'node:fs'
import path from 'node:path'
import { Writable } from 'node:stream'
import { describe, expect, it } from 'vitest'
import { main } from '../../lib/cli/main.js'
import { openStore, packageIndexKey, type PackageIndex } from '../../lib/index.js'
import { runCasPiped, runCasStderrPiped } from '../helpers/cas.js'
import { tempDir } from '../helpers/tmp.js'

describe('cas output into a reader that closes it early', () => {
  it('cas add … | head -2: two lines, exit 0, nothing on stderr', async () => {
    const dir = tempDir()
    const folder = path.join(dir, 'folder')
    fs.mkdirSync(folder)
    for (let i = 0; i < 1500; i++) fs.writeFileSync(path.join(folder, `file-${i}.txt`), `file number ${i}\n`)
    const run = await runCasPiped(['add', folder, '--store', path.join(dir, 'store')], 'head -2')
    expect(run.stderr).toBe('')
    expect(run.code).toBe(0)
    expect(run.stdout.split('\n')).toHaveLength(3) // two lines and the final newline
  })

  it('cas cat <2 MB file> | head -c 10: ten bytes, exit 0, nothing on stderr', async () => {
    const dir = tempDir()
    const store = await openStore(path.join(dir, 'store'))
    const bytes = crypto.randomBytes(2 * 1024 * 1024)
    const { digest } = await store.ensureFile(bytes, { mode: 0o644 })
    await store.close()
    const run = await runCasPiped(['cat', digest, '--store', path.join(dir, 'store')], 'head -c 10')
    expect(run.stderr).toBe('')
    expect(run.code).toBe(0)
    expect(Buffer.from(run.stdout, 'latin1')).toEqual(bytes.subarray(0, 10))
  })

  it('cas with its stderr closed by the reader (2>&1 >/dev/null | true): the exit code is still the command\'s', async () => {
    // `true` exits at once, long before cas starts: every stderr write fails with EPIPE. Unhandled, that ended
    // the process with exit 1 (an uncaught error) instead of the usage error's 2.
    expect((await runCasStderrPiped(['no-such-command'], 'true')).code).toBe(2)
  })

  it('cas verify --json | head -c 100 on a store with many problems: exit 0, nothing on stderr', async () => {
    const dir = tempDir()
    const store = await openStore(path.join(dir, 'store'))
    const index: PackageIndex = { algo: 'sha512', files: new Map() }
    for (let i = 0; i < 1000; i++) {
      const added = await store.ensureFile(Buffer.from(`file ${i}\n`), { mode: 0o644 })
      index.files.set(`f${i}.txt`, { digest: added.digest, mode: 0o644, size: added.size, checkedAt: added.checkedAt })
    }
    await store.writePackageIndex(packageIndexKey('sha512-AAAA', 'many@1.0.0'), index)
    await store.close()
    fs.rmSync(path.join(store.root, 'files'), { recursive: true }) // 1,000 missing files: a long report
    const run = await runCasPiped(['verify', '--json', '--store', path.join(dir, 'store')], 'head -c 100')
    expect(run.stderr).toBe('')
    expect(run.code).toBe(0)
    expect(run.stdout).toHaveLength(100)
  })
})

it('main() run in-process: a stdout that fails with EPIPE ends the command with 0 and says nothing', async () => {
  const dir = tempDir()
  const store = await openStore(path.join(dir, 'store'))
  const { digest } = await store.ensureFile(crypto.randomBytes(256 * 1024), { mode: 0o644 })
  await store.close()
  const closed = new Writable({
    highWaterMark: 1024,
    write (_chunk, _enc, done) { done(Object.assign(new Error('write EPIPE'), { code: 'EPIPE' })) },
  })
  closed.on('error', () => {}) // the process-level listener's job in cas.ts; here main() must cope by itself
  let stderr = ''
  const code = await main(['cat', digest, '--store', path.join(dir, 'store')], {
    stdout: closed,
    stderr: new Writable({ write (chunk, _enc, done) { stderr += String(chunk); done() } }),
    env: {},
    signal: new AbortController().signal,
  })
  expect({ code, stderr }).toEqual({ code: 0, stderr: '' })
})
