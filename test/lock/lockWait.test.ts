// Waiting with a word: a path lock held by another process for longer than REPORT_WAIT_AFTER_MS is reported with
// its holder's pid (from /proc/locks), through onWait and a CLI line; lockTimeoutMs gives up naming the holder.
import { spawn } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import { openStore, type WaitInfo } from '../../lib/index.js'
import { runFixture, type Child } from '../helpers/child.js'
import { listFiles, tempDir } from '../helpers/tmp.js'

const repoRoot = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', '..')

async function holdAllStripes (dir: string): Promise<Child> {
  const holder = runFixture('holdStripes.ts', [dir])
  await holder.line(l => l === 'LOCKED')
  return holder
}

describe('a path lock held by another process', () => {
  it('is reported through onWait with the holder\'s pid; the write goes on once it is released', async () => {
    const dir = tempDir()
    await (await openStore(dir)).close()
    const holder = await holdAllStripes(dir)
    let reported!: (info: WaitInfo) => void
    const firstReport = new Promise<WaitInfo>(resolve => { reported = resolve })
    const store = await openStore(dir, { onWait: info => { reported(info) } })
    const writing = store.ensureFile(Buffer.from('waits for the lock'), { mode: 0o644 })
    const info = await firstReport
    expect(info.holder?.pid).toBe(holder.proc.pid)
    expect(info.key).toMatch(/files\//)
    holder.send('release')
    await expect(writing).resolves.toMatchObject({ size: 18 })
    await store.close()
  }, 60_000)

  it('with lockTimeoutMs, gives up with ERR_CAS_LOCK_TIMEOUT naming the holder, and leaves no temp file', async () => {
    const dir = tempDir()
    await (await openStore(dir)).close()
    const holder = await holdAllStripes(dir)
    const store = await openStore(dir, { lockTimeoutMs: 300 })
    const err = await store.ensureFile(Buffer.from('gives up'), { mode: 0o644 }).catch((e: unknown) => e) as { code: string, message: string }
    expect(err.code).toBe('ERR_CAS_LOCK_TIMEOUT')
    expect(err.message).toContain(`pid ${holder.proc.pid}`)
    expect(listFiles(path.join(store.root, 'tmp'))).toEqual([])
    holder.send('release')
    await store.close()
  }, 60_000)

  it('cas add says who it waits for on stderr, then finishes', async () => {
    const dir = tempDir()
    await (await openStore(dir)).close()
    const pkg = tempDir()
    fs.writeFileSync(path.join(pkg, 'a.js'), 'waiting in the cli\n')
    const holder = await holdAllStripes(dir)
    const cas = spawn(process.execPath, ['--import', 'tsx', path.join(repoRoot, 'lib', 'cli', 'cas.ts'), 'add', pkg, '--store', dir], { cwd: repoRoot })
    let stderr = ''
    const said = new Promise<void>(resolve => {
      cas.stderr.on('data', chunk => {
        stderr += String(chunk)
        if (stderr.includes('held by pid')) resolve()
      })
    })
    const exited = new Promise<number | null>(resolve => cas.on('exit', resolve))
    await said
    expect(stderr).toMatch(new RegExp(`cas: waiting for a lock on .*files/.*, held by pid ${holder.proc.pid} `))
    holder.send('release')
    expect(await exited).toBe(0)
  }, 60_000)
})

describe('a lock file that cannot be used', () => {
  it('fails with ERR_CAS_LOCK_FILE saying what to do, and leaves no temp file', async () => {
    const dir = tempDir()
    const store = await openStore(dir)
    for (let i = 0; i < 256; i++) fs.mkdirSync(path.join(store.root, 'locks', i.toString(16).padStart(2, '0')))
    const err = await store.ensureFile(Buffer.from('no lock'), { mode: 0o644 }).catch((e: unknown) => e) as { code: string, message: string }
    expect(err.code).toBe('ERR_CAS_LOCK_FILE')
    expect(err.message).toMatch(/EISDIR.*remove it/)
    expect(listFiles(path.join(store.root, 'tmp'))).toEqual([])
    await store.close()
  })
})
