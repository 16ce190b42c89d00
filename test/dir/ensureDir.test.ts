import { execFileSync } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { COMPLETE_MARKER, openStore, type WaitInfo } from '../../lib/index.js'
import { runFixture, type Child } from '../helpers/child.js'
import { makeBareRepo } from '../helpers/git.js'
import { tempDir } from '../helpers/tmp.js'

function setup (): { dir: string, bare: string, countFile: string } {
  const dir = tempDir()
  const bare = makeBareRepo(tempDir('cas-git-'))
  return { dir, bare, countFile: path.join(tempDir('cas-count-'), 'fills') }
}

const fills = (countFile: string): string[] => fs.existsSync(countFile) ? fs.readFileSync(countFile, 'utf8').trim().split('\n') : []

const started: Child[] = []

/** The filler runs in its own process group, so killing the group also kills its `git clone` and hook. */
function startFiller (args: string[]): Child {
  const child = runFixture('cloneDir.ts', args, { detached: true })
  started.push(child)
  return child
}

afterEach(() => {
  // A failed test must not leave a hung `git clone` (and its hook's sleep) behind.
  for (const child of started.splice(0)) {
    try { process.kill(-child.proc.pid!, 'SIGKILL') } catch {}
  }
})

describe('ensureDir', () => {
  it('the clone race: four processes, one git clone, every one gets the complete clone', async () => {
    const { dir, bare, countFile } = setup()
    const children = [0, 1, 2, 3].map(() => startFiller([dir, 'git+file://origin#main', bare, countFile, 'normal']))
    const results = await Promise.all(children.map(async c => await c.line(l => l.startsWith('DIR') || l.startsWith('ERROR'))))
    const paths = new Set(results.map(r => r.replace(/^DIR /, '')))
    expect(results.every(r => r.startsWith('DIR '))).toBe(true)
    expect(paths.size).toBe(1)
    expect(fills(countFile)).toHaveLength(1)
    const entry = [...paths][0]!
    expect(fs.existsSync(path.join(entry, COMPLETE_MARKER))).toBe(true)
    execFileSync('git', ['-C', path.join(entry, 'repo'), 'fsck', '--strict'], { stdio: 'pipe' })
    expect(fs.readFileSync(path.join(entry, 'repo', 'src', 'index.js'), 'utf8')).toContain('module.exports = 42')
  })

  it('a filler killed mid-clone leaves no entry; the next caller completes it and no temp folder survives', async () => {
    const { dir, bare, countFile } = setup()
    const killed = startFiller([dir, 'k', bare, countFile, 'hang'])
    await killed.line(l => l === 'FILLING') // git clone is running its post-checkout hook
    process.kill(-killed.proc.pid!, 'SIGKILL')
    await killed.exited

    const store = await openStore(dir)
    const dirs = path.join(store.root, 'dirs')
    expect(fs.readdirSync(dirs).some(n => n.includes('.cas-tmpdir-'))).toBe(true) // the dead filler's leftovers
    const entry = await store.ensureDir('k', async tmp => {
      fs.appendFileSync(countFile, 'in-process\n')
      execFileSync('git', ['clone', '-q', bare, path.join(tmp, 'repo')])
    })
    expect(fills(countFile)).toHaveLength(2)
    execFileSync('git', ['-C', path.join(entry, 'repo'), 'fsck'], { stdio: 'pipe' })
    // The dead filler's lock file was reused by the next filler, which removed it on release.
    expect(fs.readdirSync(dirs)).toEqual([path.basename(entry)])
    await store.close()
  })

  it('a fill that throws leaves nothing at the final path and no temp folder; the next call fills', async () => {
    const store = await openStore(tempDir())
    await expect(store.ensureDir('k', async tmp => {
      fs.writeFileSync(path.join(tmp, 'half'), 'x')
      throw new Error('clone failed')
    })).rejects.toThrow('clone failed')
    const dirs = path.join(store.root, 'dirs')
    expect(fs.readdirSync(dirs).filter(n => !n.endsWith('.lock'))).toEqual([])
    let calls = 0
    const entry = await store.ensureDir('k', tmp => { calls++; fs.writeFileSync(path.join(tmp, 'whole'), 'y') })
    expect(fs.readFileSync(path.join(entry, 'whole'), 'utf8')).toBe('y')
    // Complete now: returned as is, fill not called again.
    expect(await store.ensureDir('k', () => { calls++ })).toBe(entry)
    expect(calls).toBe(1)
    await store.close()
  })

  it('waiting is visible (onWait names the holder) and timeoutMs fails with ERR_CAS_LOCK_TIMEOUT naming it', async () => {
    const { dir, bare, countFile } = setup()
    const holder = startFiller([dir, 'busy', bare, countFile, 'hang'])
    await holder.line(l => l === 'FILLING')
    const store = await openStore(dir)
    const waits: WaitInfo[] = []
    const failure = await store.ensureDir('busy', () => {}, { timeoutMs: 300, onWait: info => waits.push(info) })
      .then(() => undefined, (err: unknown) => err as { code: string, message: string, holder?: { pid: number } })
    process.kill(-holder.proc.pid!, 'SIGKILL')
    await holder.exited
    expect(failure?.code).toBe('ERR_CAS_LOCK_TIMEOUT')
    expect(failure?.holder?.pid).toBe(holder.proc.pid)
    expect(failure?.message).toContain(`pid ${holder.proc.pid!}`)
    expect(waits.length).toBeGreaterThan(0)
    expect(waits[0]).toMatchObject({ key: 'busy', holder: { pid: holder.proc.pid } })
    await store.close()
  })

  it('a key that is not a string, or a fill that is not a function, is refused saying what it must be', async () => {
    const store = await openStore(tempDir())
    for (const key of [42, undefined]) {
      const err = await store.ensureDir(key as never, () => {}).catch((e: unknown) => e as Error)
      expect(err).toMatchObject({ code: 'ERR_CAS_INVALID_ARGUMENT' })
      expect((err as Error).message).toContain('key must be a non-empty string')
    }
    const err = await store.ensureDir('k', 'git clone' as never).catch((e: unknown) => e as Error)
    expect((err as Error).message).toContain('fill must be a function')
    await store.close()
  })

  it('rejects a bad key or fill', async () => {
    const store = await openStore(tempDir())
    await expect(store.ensureDir('', () => {})).rejects.toMatchObject({ code: 'ERR_CAS_INVALID_ARGUMENT' })
    await expect(store.ensureDir('k', undefined as never)).rejects.toMatchObject({ code: 'ERR_CAS_INVALID_ARGUMENT' })
    await store.close()
  })
})
