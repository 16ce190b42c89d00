// cas prune --grace 0 removed the temp file of a writer queued behind a path lock; the writer then failed with an
// ENOENT naming the content path. A live writer's temp is never removed now (its store holds an owner record
// prune can see), a dead writer's is, and an error about a vanished temp names the temp.
import fs from 'node:fs'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { openStore } from '../../lib/index.js'
import { runCas } from '../helpers/cas.js'
import { gate } from '../helpers/gate.js'
import { listFiles, tempDir } from '../helpers/tmp.js'

describe('prune and a live writer\'s temp file', () => {
  it('cas prune --grace 0 (another process) leaves a waiting writer\'s temp alone; the write then succeeds', async () => {
    const dir = tempDir()
    const paused = gate()
    const store = await openStore(dir, { _hooks: { 'writer:tempWritten': async () => { await paused.wait() } } })
    const writing = store.ensureFile(Buffer.from('a temp that waits for its rename'), { mode: 0o644 })
    await paused.reached
    const temps = listFiles(path.join(store.root, 'tmp'))
    expect(temps).toHaveLength(1)
    const prune = await runCas(['prune', '--store', dir, '--grace', '0', '--force', '--json'])
    expect(prune.code).toBe(0)
    expect(JSON.parse(prune.stdout).tempsRemoved).toBe(0)
    expect(listFiles(path.join(store.root, 'tmp'))).toEqual(temps)
    paused.open()
    const added = await writing
    expect(fs.readFileSync(added.filePath, 'utf8')).toBe('a temp that waits for its rename')
    await store.close()
  }, 60_000)

  it('a dead writer\'s temp and owner record are removed (the kernel dropped its lock)', async () => {
    // What a SIGKILLed writer leaves: a temp file, and its owner record with nobody holding its lock.
    const dir = tempDir()
    const store = await openStore(dir)
    const temp = path.join(store.root, 'tmp', '999999-0-1-0123456789abcdef.cas-tmp')
    fs.writeFileSync(temp, 'left by a writer that died')
    fs.mkdirSync(path.join(store.root, 'owners'), { recursive: true })
    fs.writeFileSync(path.join(store.root, 'owners', '999999-0-0123456789abcdef.cas-owner'), '')
    const report = await store.pruneStore({ graceMs: 0, allowNoIndexes: true })
    expect(report.tempsRemoved).toBe(2)
    expect(fs.existsSync(temp)).toBe(false)
    await store.close()
  }, 60_000)

  it('a temp file removed behind the writer\'s back fails with an error naming the temp file', async () => {
    const dir = tempDir()
    const paused = gate()
    const store = await openStore(dir, { _hooks: { 'writer:tempWritten': async () => { await paused.wait() } } })
    const writing = store.ensureFile(Buffer.from('vanishes'), { mode: 0o644 }).catch((e: unknown) => e)
    await paused.reached
    const [temp] = listFiles(path.join(store.root, 'tmp'))
    fs.rmSync(path.join(store.root, 'tmp', temp!))
    paused.open()
    const err = await writing as { code: string, message: string, path: string }
    expect(err.code).toBe('ERR_CAS_TEMP_LOST')
    expect(err.path).toBe(path.join(store.root, 'tmp', temp!))
    expect(err.message).toContain(temp)
    await store.close()
  })
})
