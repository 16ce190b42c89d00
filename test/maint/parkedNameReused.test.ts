// The cleaners list a download's kept bytes (`partial/<digest>.partial`) by lstat and remove them later. The
// parked name is reused: between the two, the next download of the digest can take the old parked file, receive
// more bytes, fail and park them under the same name. The removal therefore happens only while the digest's key
// lock is free, and only if the file has not changed since it was listed.
// Deterministic: the listing and the removal are called apart, as `cas prune` runs them (another process), and the
// server drops each connection once the client reports its bytes on disk.
import fs from 'node:fs'
import http from 'node:http'
import path from 'node:path'
import { afterEach, expect, it } from 'vitest'
import { openStore } from '../../lib/index.js'
import { removeTemp, staleTemps, type StaleTemp } from '../../lib/maint/staleTemps.js'
import { isYoung } from '../../lib/util/age.js'
import { contentOf, sha512Hex } from '../helpers/content.js'
import { gate, type Gate } from '../helpers/gate.js'
import { tempDir } from '../helpers/tmp.js'
import { listenLoopback } from '../helpers/listen.js'

const closers: Array<() => Promise<void>> = []
afterEach(async () => { for (const close of closers.splice(0)) await close() })

it('a parked partial listed as stale, then taken, resumed and parked again, is not removed by that listing', async () => {
  const body = contentOf('parked-name-reused', 1, 100_000)
  const digest = sha512Hex(body)
  const FIRST = 30_000
  const MORE = 20_000
  let cut: Gate = gate()
  const server = http.createServer((req, res) => {
    (async () => {
      const from = Number(/^bytes=(\d+)-$/.exec(req.headers.range ?? '')?.[1] ?? 0)
      if (from > 0) {
        res.writeHead(206, { 'content-length': body.length - from, 'content-range': `bytes ${from}-${body.length - 1}/${body.length}` })
        res.write(body.subarray(from, from + MORE))
      } else {
        res.writeHead(200, { 'content-length': body.length })
        res.write(body.subarray(0, FIRST))
      }
      await cut.wait()
      res.destroy()
    })().catch(err => res.destroy(err as Error))
  })
  const { url, close } = await listenLoopback(server)
  closers.push(close)
  const store = await openStore(tempDir())
  closers.unshift(async () => { await store.close() })
  const parked = path.join(store.root, 'partial', `${digest}.partial`)
  const failedFetch = async (upTo: number): Promise<string | undefined> => {
    cut = gate()
    return await store.fetchFile(url, { digest, onProgress: p => { if (p.received >= upTo) cut.open() } })
      .then(() => 'stored', (err: { code?: string }) => err.code)
  }

  expect(await failedFetch(FIRST)).toBe('ERR_CAS_FETCH_NETWORK')
  expect(fs.statSync(parked).size).toBe(FIRST)

  // The cleaner (grace 0) scans: the parked file is old, so it is listed.
  const scanStart = Date.now()
  const listed: StaleTemp[] = []
  for await (const t of staleTemps(store.root, 0, scanStart)) if (t.path === parked) listed.push(t)
  expect(listed).toHaveLength(1)

  // Meanwhile the next download takes it, resumes, gets MORE bytes, fails, and parks FIRST + MORE under that name.
  const failed = await failedFetch(FIRST + MORE)
  expect(failed).toBe('ERR_CAS_FETCH_NETWORK')
  const reparked = fs.statSync(parked)
  expect(reparked.size).toBe(FIRST + MORE)
  expect(isYoung(reparked, 0, scanStart)).toBe(true) // changed after the scan began: the age rule keeps it

  // The cleaner removes what it listed.
  await removeTemp(listed[0]!)
  expect(fs.existsSync(parked)).toBe(true) // the young re-parked bytes the caller was told are kept
})
