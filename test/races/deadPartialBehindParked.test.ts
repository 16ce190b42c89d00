// Two downloaders let in side by side (a user removed partial/<digest>.lock) can leave both a parked
// `<digest>.partial` and a killed one's own `<digest>.<id>.cas-tmp`. The next download of the digest looks at both:
// it resumes the larger and removes the other. Taking the parked file alone left the dead writer's bytes in
// partial/ for good, since once the digest is stored no download of it ever reaches the lock again.
// Deterministic: a real child downloader (test/fixtures/fetch.ts), held by the server past half, then SIGKILLed;
// the in-process downloader's connection is dropped once its progress says FIRST bytes are on disk.
import fs from 'node:fs'
import http from 'node:http'
import path from 'node:path'
import { afterEach, expect, it } from 'vitest'
import { openStore } from '../../lib/index.js'
import { runFixture } from '../helpers/child.js'
import { contentOf, sha512Hex } from '../helpers/content.js'
import { gate } from '../helpers/gate.js'
import { tempDir } from '../helpers/tmp.js'
import { listenLoopback } from '../helpers/listen.js'

const closers: Array<() => Promise<void>> = []
afterEach(async () => { for (const close of closers.splice(0)) await close() })

it('a parked partial and a killed downloader\'s own file: the larger is resumed, the other removed, nothing left', async () => {
  const body = contentOf('dead-partial-behind-parked', 1, 100_000)
  const digest = sha512Hex(body)
  const FIRST = 30_000
  const dropA = gate()
  const requests: Array<string | undefined> = []
  const server = http.createServer((req, res) => {
    (async () => {
      const nth = requests.push(req.headers.range)
      const from = Number(/^bytes=(\d+)-$/.exec(req.headers.range ?? '')?.[1] ?? 0)
      if (from > 0) {
        res.writeHead(206, { 'content-length': body.length - from, 'content-range': `bytes ${from}-${body.length - 1}/${body.length}` })
        res.end(body.subarray(from))
        return
      }
      res.writeHead(200, { 'content-length': body.length })
      if (nth === 1) { // the child: 60% of the file, then nothing until it is killed
        res.write(body.subarray(0, 60_000))
        return
      }
      res.write(body.subarray(0, FIRST)) // A: FIRST bytes, then the connection drops
      await dropA.wait()
      res.destroy()
    })().catch(err => res.destroy(err as Error))
  })
  const { url, close } = await listenLoopback(server)
  closers.push(close)

  const dir = tempDir()
  const child = runFixture('fetch.ts', [dir, url, digest])
  closers.unshift(async () => { if (child.proc.exitCode === null) child.proc.kill('SIGKILL'); await child.exited })
  await child.line(l => l === 'HALF') // the child holds the download lock, 60,000 bytes in its own file
  const store = await openStore(dir)
  closers.unshift(async () => { await store.close() })
  const partialDir = path.join(store.root, 'partial')
  fs.rmSync(path.join(partialDir, `${digest}.lock`)) // a user cleaning up lock files

  const failed = await store.fetchFile(url, { digest, onProgress: p => { if (p.received >= FIRST) dropA.open() } })
    .then(() => 'stored', (err: { code?: string }) => err.code)
  expect(failed).toBe('ERR_CAS_FETCH_NETWORK') // A parked its FIRST bytes as <digest>.partial
  child.proc.kill('SIGKILL')
  await child.exited
  const childFile = fs.readdirSync(partialDir).filter(n => n.startsWith(`${digest}.`) && n.endsWith('.cas-tmp'))
  expect(childFile).toHaveLength(1) // dead now: its owner record is free
  expect(fs.existsSync(path.join(partialDir, `${digest}.partial`))).toBe(true)

  const stored = await store.fetchFile(url, { digest }) // resumes the dead child's 60,000 bytes, the larger
  expect(fs.readFileSync(stored.filePath).equals(body)).toBe(true)
  expect(requests.at(-1)).toBe('bytes=60000-')
  expect(fs.readdirSync(partialDir).filter(n => n.startsWith(`${digest}.`) && !n.endsWith('.lock'))).toEqual([])
})
