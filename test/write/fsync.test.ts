// The fsync option, observed: with `fsync: true` the writer must sync each temp file before its rename and the
// folder after it (else a power loss can leave a renamed but empty file, or lose the rename); with it off, no
// fsync at all (it costs a disk flush per file). Observed through the fs calls the writer makes: node:fs for the
// synchronous small-file path, graceful-fs for the asynchronous one.
import crypto from 'node:crypto'
import fs from 'node:fs'
import path from 'node:path'
import { Readable } from 'node:stream'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { openStore } from '../../lib/index.js'
import { tempDir } from '../helpers/tmp.js'

const events = vi.hoisted(() => ({ log: [] as string[], root: '' }))

/** What a descriptor points at, relative to the store root (Linux: /proc/self/fd). */
function describeFd (fd: number): string {
  return path.relative(events.root, fs.readlinkSync(`/proc/self/fd/${fd}`))
}

vi.mock('graceful-fs', async importOriginal => {
  const original = (await importOriginal<{ default: typeof import('graceful-fs') }>()).default
  const patched = Object.create(original) as typeof original
  patched.fsync = ((fd: number, callback: (err: NodeJS.ErrnoException | null) => void) => {
    events.log.push(`fsync (async) ${describeFd(fd)}`)
    original.fsync(fd, callback)
  }) as typeof original.fsync
  return { default: patched }
})

beforeEach(() => {
  events.log.length = 0
  const fsyncSync = fs.fsyncSync
  vi.spyOn(fs, 'fsyncSync').mockImplementation(fd => {
    events.log.push(`fsync ${describeFd(fd)}`)
    fsyncSync(fd)
  })
  const renameSync = fs.renameSync
  vi.spyOn(fs, 'renameSync').mockImplementation((from, to) => {
    renameSync(from, to) // logged once it succeeded (the first try fails while files/<xx> does not exist yet)
    events.log.push(`rename ${path.relative(events.root, String(from))} -> ${path.relative(events.root, String(to))}`)
  })
})
afterEach(() => { vi.restoreAllMocks() })

/** The log with temp names and content paths reduced to their shape. */
function shape (log: string[]): string[] {
  return log.map(line => line
    .replace(/tmp\/[^ ]+\.cas-tmp/g, 'tmp/<temp>')
    .replace(/files\/[0-9a-f]{2}\/[0-9a-f]{126}/g, 'files/<xx>/<digest>')
    .replace(/files\/[0-9a-f]{2}(?=$| )/g, 'files/<xx>'))
}

// Buffers up to 1 MiB are written with synchronous calls, larger ones and streams through graceful-fs.
const cases: Array<[string, () => Buffer | Readable, string]> = [
  ['a small buffer (synchronous path)', () => Buffer.from('durable bytes'), 'fsync'],
  ['a buffer of exactly 1 MiB (synchronous path)', () => crypto.randomBytes(1024 * 1024), 'fsync'],
  ['a large buffer (asynchronous path)', () => crypto.randomBytes(1024 * 1024 + 1), 'fsync (async)'],
  ['a stream', () => Readable.from([Buffer.from('streamed '), Buffer.from('bytes')]), 'fsync (async)'],
]

describe('the fsync option', () => {
  it.each(cases)('fsync: true, %s: the temp file is synced before its rename, the folder after it', async (_what, content, tempSync) => {
    const store = await openStore(tempDir(), { fsync: true })
    events.root = store.root
    events.log.length = 0
    const added = await store.ensureFile(content(), { mode: 0o644 })
    expect(shape(events.log)).toEqual([
      `${tempSync} tmp/<temp>`, 'rename tmp/<temp> -> files/<xx>/<digest>', 'fsync files/<xx>',
    ])
    expect(events.log[2]).toBe(`fsync ${path.relative(store.root, path.dirname(added.filePath))}`)
    await store.close()
  })

  it.each(cases)('fsync off (the default), %s: no fsync at all', async (_what, content) => {
    const store = await openStore(tempDir())
    events.root = store.root
    events.log.length = 0
    await store.ensureFile(content(), { mode: 0o644 })
    expect(shape(events.log)).toEqual(['rename tmp/<temp> -> files/<xx>/<digest>'])
    await store.close()
  })
})
