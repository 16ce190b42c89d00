// ensureDir within one process: its lock-free fast path, the second look under the key's lock, what it removes
// under that lock (and what it must leave alone), and how a failed or lost fill ends. The other holder of a key's
// lock is a second descriptor on the lock file, which excludes us as another process would; a fill waiting on a
// gate is the pause point.
import fs from 'node:fs'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { dirEntryPaths, tempDirFor } from '../../lib/dir/dirLayout.js'
import { COMPLETE_MARKER, openStore } from '../../lib/index.js'
import { withKeyLock } from '../../lib/lock/keyLock.js'
import { gate, signal } from '../helpers/gate.js'
import { tempDir } from '../helpers/tmp.js'

describe('ensureDir in one process', () => {
  it('a complete entry is returned without taking its lock, even while another holds it', async () => {
    const store = await openStore(tempDir())
    const entry = await store.ensureDir('k', tmp => { fs.writeFileSync(path.join(tmp, 'f'), 'x') })
    const { lockFile } = dirEntryPaths(store.root, 'k')
    let release!: () => void
    const entered = signal()
    const held = withKeyLock(lockFile, 'k', async () => {
      entered.signal()
      await new Promise<void>(resolve => { release = resolve })
    })
    await entered.signalled
    let calls = 0
    await expect(store.ensureDir('k', () => { calls++ }, { timeoutMs: 200 })).resolves.toBe(entry)
    expect(calls).toBe(0)
    release()
    await held
    await store.close()
  })

  it('a caller that waited while another filled the entry uses that entry: the second fill never runs', async () => {
    const store = await openStore(tempDir())
    const filling = gate()
    const first = store.ensureDir('k', async tmp => {
      fs.writeFileSync(path.join(tmp, 'from-first'), '1')
      await filling.wait()
    })
    await filling.reached
    const waiting = signal()
    let secondCalls = 0
    const second = store.ensureDir('k', () => { secondCalls++ }, { onWait: () => { waiting.signal() } })
    await waiting.signalled // queued on the key's lock
    filling.open()
    const entry = await first
    await expect(second).resolves.toBe(entry)
    expect(secondCalls).toBe(0)
    expect(fs.readFileSync(path.join(entry, 'from-first'), 'utf8')).toBe('1')
    await store.close()
  })

  it('filling one key leaves other keys alone: a live filler\'s temp folder, a complete entry, their lock files', async () => {
    const store = await openStore(tempDir())
    const done = await store.ensureDir('done', tmp => { fs.writeFileSync(path.join(tmp, 'f'), 'done') })
    const filling = gate()
    const slow = store.ensureDir('slow', async tmp => {
      fs.writeFileSync(path.join(tmp, 'before'), '1')
      await filling.wait()
      fs.writeFileSync(path.join(tmp, 'after'), '2')
    })
    await filling.reached
    const dirs = path.join(store.root, 'dirs')
    const slowTemp = fs.readdirSync(dirs).find(n => n.startsWith(dirEntryPaths(store.root, 'slow').name + '.cas-tmpdir-'))
    expect(slowTemp).toBeDefined()
    await store.ensureDir('other', tmp => { fs.writeFileSync(path.join(tmp, 'f'), 'other') })
    expect(fs.existsSync(path.join(dirs, slowTemp!, 'before'))).toBe(true)
    expect(fs.existsSync(dirEntryPaths(store.root, 'slow').lockFile)).toBe(true)
    expect(fs.readFileSync(path.join(done, 'f'), 'utf8')).toBe('done')
    filling.open()
    const entry = await slow
    expect(fs.readdirSync(entry).sort()).toEqual([COMPLETE_MARKER, 'after', 'before'])
    await store.close()
  })

  it('a dead filler\'s temp folder of the key, with files in it, is removed by the next filler', async () => {
    const store = await openStore(tempDir())
    const { parent, name } = dirEntryPaths(store.root, 'k')
    const dead = tempDirFor(parent, name)
    fs.mkdirSync(path.join(dead, 'repo', '.git'), { recursive: true })
    fs.writeFileSync(path.join(dead, 'repo', '.git', 'HEAD'), 'ref: refs/heads/main\n')
    const entry = await store.ensureDir('k', tmp => { fs.writeFileSync(path.join(tmp, 'f'), 'x') })
    expect(fs.readdirSync(parent)).toEqual([path.basename(entry)])
    await store.close()
  })

  it('an incomplete entry at the final path (no marker, files in it) is removed and filled again', async () => {
    const store = await openStore(tempDir())
    const { dir } = dirEntryPaths(store.root, 'k')
    fs.mkdirSync(path.join(dir, 'half', 'deep'), { recursive: true })
    fs.writeFileSync(path.join(dir, 'half', 'deep', 'file'), 'partial')
    let calls = 0
    const entry = await store.ensureDir('k', tmp => {
      calls++
      fs.writeFileSync(path.join(tmp, 'whole'), 'y')
    })
    expect(entry).toBe(dir)
    expect(calls).toBe(1)
    expect(fs.readdirSync(entry).sort()).toEqual([COMPLETE_MARKER, 'whole'])
    await store.close()
  })

  it('the completion marker records the key and when it was completed (the folder name is only a hash)', async () => {
    const store = await openStore(tempDir())
    const before = Date.now()
    const entry = await store.ensureDir('git+https://example.com/repo.git#main', () => {})
    const marker = JSON.parse(fs.readFileSync(path.join(entry, COMPLETE_MARKER), 'utf8')) as Record<string, unknown>
    expect(marker.key).toBe('git+https://example.com/repo.git#main')
    expect(marker.completedAt).toBeGreaterThanOrEqual(before)
    await store.close()
  })

  it('a fill that removes its own temp folder and then fails: its own error comes out', async () => {
    const store = await openStore(tempDir())
    const mine = new Error('git clone failed and cleaned up')
    await expect(store.ensureDir('k', tmp => {
      fs.rmSync(tmp, { recursive: true }) // as `git clone` removes a target it failed to fill
      throw mine
    })).rejects.toBe(mine)
    await store.close()
  })

  it('a fill lost to a complete entry another tool made without our lock: that entry is returned', async () => {
    const store = await openStore(tempDir())
    const { dir } = dirEntryPaths(store.root, 'k')
    const entry = await store.ensureDir('k', tmp => {
      fs.writeFileSync(path.join(tmp, 'ours'), 'ours')
      // Meanwhile an older tool that does not take our lock completes the entry at the final path.
      fs.mkdirSync(dir)
      fs.writeFileSync(path.join(dir, 'theirs'), 'theirs')
      fs.writeFileSync(path.join(dir, COMPLETE_MARKER), '{}')
    })
    expect(entry).toBe(dir)
    expect(fs.readdirSync(entry).sort()).toEqual([COMPLETE_MARKER, 'theirs'])
    expect(fs.readdirSync(path.dirname(dir)).filter(n => n.includes('.cas-tmpdir-'))).toEqual([])
    await store.close()
  })

  it('a fill that fails while an incomplete folder sits at the final path: the fill\'s error, no entry', async () => {
    const store = await openStore(tempDir())
    const { dir } = dirEntryPaths(store.root, 'k')
    const mine = new Error('fill failed')
    await expect(store.ensureDir('k', () => {
      fs.mkdirSync(dir) // an incomplete folder appears meanwhile (no marker)
      throw mine
    })).rejects.toBe(mine)
    expect(fs.existsSync(path.join(dir, COMPLETE_MARKER))).toBe(false)
    await store.close()
  })
})
