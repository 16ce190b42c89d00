// Downloads' kept bytes (`partial/<digest>.partial`, parked by a failed download, and dead writers' own files) are
// resumable, but not forever: once past the grace period, `cas verify` lists them as stale temps, and `cas verify
// --fix` and `cas prune` remove them. Nothing else would: once their digest is in the store (here it arrives as a
// package's file), no download of it reaches the lock again. A young one is kept.
import fs from 'node:fs'
import http from 'node:http'
import path from 'node:path'
import { afterEach, expect, it } from 'vitest'
import { openStore } from '../../lib/index.js'
import { contentOf, sha512Hex } from '../helpers/content.js'
import { gate } from '../helpers/gate.js'
import { tempDir } from '../helpers/tmp.js'
import { listenLoopback } from '../helpers/listen.js'

const closers: Array<() => Promise<void>> = []
afterEach(async () => { for (const close of closers.splice(0)) await close() })

it('a parked partial past the grace is listed by verify and removed by --fix; a young one is kept', async () => {
  const body = contentOf('partials-reclaimed', 1, 100_000)
  const digest = sha512Hex(body)
  const FIRST = 40_000
  const drop = gate()
  const server = http.createServer((_req, res) => {
    (async () => {
      res.writeHead(200, { 'content-length': body.length })
      res.write(body.subarray(0, FIRST))
      await drop.wait()
      res.destroy()
    })().catch(err => res.destroy(err as Error))
  })
  const { url, close } = await listenLoopback(server)
  closers.push(close)
  const store = await openStore(tempDir())
  closers.unshift(async () => { await store.close() })
  const failed = await store.fetchFile(url, { digest, onProgress: p => { if (p.received >= FIRST) drop.open() } })
    .then(() => 'stored', (err: { code?: string }) => err.code)
  expect(failed).toBe('ERR_CAS_FETCH_NETWORK')
  const parked = path.join(store.root, 'partial', `${digest}.partial`)
  expect(fs.statSync(parked).size).toBe(FIRST)

  await store.ensureFile(body, { mode: 0o644 }) // the same content arrives another way (a package's file)
  const young = await store.verifyStore({ fix: true }) // the default grace: 10 minutes
  expect(young.staleTemps.map(t => t.path)).not.toContain(parked)
  expect(fs.existsSync(parked)).toBe(true)
  const listed = await store.verifyStore({ graceMs: 0 }) // what `cas verify --grace 0s` lists
  expect(listed.staleTemps.filter(t => t.path === parked)).toMatchObject([{ kind: 'partial-download', removed: false }])
  const fixed = await store.verifyStore({ fix: true, graceMs: 0 })
  expect(fixed.staleTemps.filter(t => t.path === parked)).toMatchObject([{ kind: 'partial-download', removed: true }])
  expect(fs.existsSync(parked)).toBe(false)
})
