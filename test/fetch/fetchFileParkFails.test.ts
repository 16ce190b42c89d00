// A failed download whose bytes cannot be parked (the rename to partial/<digest>.partial fails: ENOSPC, EDQUOT,
// EROFS on a full or failing disk; simulated with a renameSync that fails for the park only). The caller gets the
// download's own coded error, not the rename's, and the unparked file is removed: left under the call's own name it
// would be skipped as a live writer's by every later call while the store is open, one more file per try.
// Deterministic: the server sends FIRST bytes, waits until the client reports them on disk, then drops the link.
import fs from 'node:fs'
import http from 'node:http'
import path from 'node:path'
import { afterEach, expect, it, vi } from 'vitest'
import { openStore } from '../../lib/index.js'
import { contentOf, sha512Hex } from '../helpers/content.js'
import { gate, type Gate } from '../helpers/gate.js'
import { tempDir } from '../helpers/tmp.js'
import { listenLoopback } from '../helpers/listen.js'

const closers: Array<() => Promise<void>> = []
afterEach(async () => {
  vi.restoreAllMocks()
  for (const close of closers.splice(0)) await close()
})

const body = contentOf('park-fails', 1, 100_000)
const digest = sha512Hex(body)
const FIRST = 30_000

/** Each request: FIRST bytes, then (drop: the connection dies once `dropNow` opens) or the rest (206 to a range). */
async function server (
  drop: () => boolean, dropNow: () => Gate,
): Promise<{ url: string, ranges: Array<string | undefined> }> {
  const ranges: Array<string | undefined> = []
  const srv = http.createServer((req, res) => {
    (async () => {
      ranges.push(req.headers.range)
      const from = Number(/^bytes=(\d+)-$/.exec(req.headers.range ?? '')?.[1] ?? 0)
      if (from > 0) {
        res.writeHead(206, { 'content-length': body.length - from, 'content-range': `bytes ${from}-${body.length - 1}/${body.length}` })
        res.end(body.subarray(from))
        return
      }
      res.writeHead(200, { 'content-length': body.length })
      if (!drop()) {
        res.end(body)
        return
      }
      res.write(body.subarray(0, FIRST))
      await dropNow().wait()
      res.destroy()
    })().catch(err => res.destroy(err as Error))
  })
  const { url, close } = await listenLoopback(srv)
  closers.push(close)
  return { url, ranges }
}

/** The park's rename fails (ENOSPC) while `failing()`; every other rename is real. */
function parkRenameFails (failing: () => boolean): void {
  const renameSync = fs.renameSync
  vi.spyOn(fs, 'renameSync').mockImplementation((from, to) => {
    if (failing() && String(to).endsWith('.partial')) {
      throw Object.assign(new Error(`ENOSPC: no space left on device, rename '${String(from)}' -> '${String(to)}'`), {
        code: 'ENOSPC', errno: -28, syscall: 'rename', path: String(from), dest: String(to),
      })
    }
    renameSync(from, to)
  })
}

/** A fetch that the server cuts after FIRST bytes are on disk. */
async function failedFetch (
  store: Awaited<ReturnType<typeof openStore>>, url: string, cut: { gate: Gate },
): Promise<unknown> {
  cut.gate = gate()
  return await store.fetchFile(url, {
    digest,
    onProgress: p => { if (p.received >= FIRST) cut.gate.open() },
  }).then(() => 'stored', (err: unknown) => err)
}

const ownFiles = (root: string): string[] =>
  fs.readdirSync(path.join(root, 'partial')).filter(n => n.startsWith(`${digest}.`) && !n.endsWith('.lock'))

it('a dropped download whose park fails still rejects with its own coded error (ERR_CAS_FETCH_NETWORK)', async () => {
  const cut = { gate: gate() }
  const { url } = await server(() => true, () => cut.gate)
  parkRenameFails(() => true)
  const store = await openStore(tempDir())
  closers.unshift(async () => { await store.close() })
  const err = await failedFetch(store, url, cut)
  expect(err).toMatchObject({ code: 'ERR_CAS_FETCH_NETWORK', url })
})

it('three failed calls whose parks fail leave nothing behind; the next call downloads the whole file', async () => {
  let dropping = true
  const cut = { gate: gate() }
  const { url, ranges } = await server(() => dropping, () => cut.gate)
  let failing = true
  parkRenameFails(() => failing)
  const store = await openStore(tempDir())
  closers.unshift(async () => { await store.close() })
  for (let i = 0; i < 3; i++) await failedFetch(store, url, cut)
  expect(ownFiles(store.root)).toEqual([])
  failing = false
  dropping = false
  const stored = await store.fetchFile(url, { digest })
  expect(fs.readFileSync(stored.filePath).equals(body)).toBe(true)
  expect(ranges).toEqual([undefined, undefined, undefined, undefined]) // nothing kept, nothing resumed
  expect(ownFiles(store.root)).toEqual([])
})
