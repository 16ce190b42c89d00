// A shared `.partial` clobbered by a second downloader (the toolchain installers' bug): fetchFile's key lock keeps a
// second downloader of a digest out only while `partial/<digest>.lock` stays. A user who removes it mid-download
// lets a second one in. When both wrote one shared `<digest>.partial`, the second measured it, hashed what it
// found, and appended at an end the first had since moved: it renamed into the store 120,000 bytes under the digest
// of 100,000, and returned them as good. Each download now writes a file of its own (`fetch/ownPartial.ts`), so
// the second downloads the whole file beside the first, and both store the right bytes.
// Deterministic: the server holds each body until the test says, and the first downloader's progress says what
// it has written.
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

it('a second downloader let in by a removed lock file never writes into the first one\'s partial', async () => {
  const body = contentOf('lock-removed-mid-download', 1, 100_000)
  const digest = sha512Hex(body)
  const FIRST = 30_000
  const restForA = gate()
  const requests: Array<string | undefined> = []
  let aReceived = 0
  const server = http.createServer((req, res) => {
    (async () => {
      const nth = requests.push(req.headers.range)
      res.writeHead(200, { 'content-length': body.length })
      if (nth === 1) { // A: FIRST bytes, then the rest only once B has finished
        res.write(body.subarray(0, FIRST))
        await restForA.wait()
      }
      res.end(nth === 1 ? body.subarray(FIRST) : body)
    })().catch(err => res.destroy(err as Error))
  })
  const { url, close } = await listenLoopback(server)
  closers.push(close)

  const dir = tempDir()
  const storeA = await openStore(dir)
  const storeB = await openStore(dir)
  closers.push(async () => { await storeA.close(); await storeB.close() })
  let aHasFirst!: () => void
  const aWrote = new Promise<void>(resolve => { aHasFirst = resolve })
  const a = storeA.fetchFile(url, {
    digest,
    onProgress: p => {
      aReceived = p.received
      if (aReceived >= FIRST) aHasFirst()
    },
  })
  await aWrote // A holds the download lock and has FIRST bytes in its partial
  const partialDir = path.join(storeA.root, 'partial')
  const aPartial = fs.readdirSync(partialDir).filter(name => !name.endsWith('.lock'))
  expect(aPartial).toHaveLength(1)
  expect(aPartial[0]).toMatch(new RegExp(`^${digest}\\..+\\.cas-tmp$`)) // A's own file, not a shared name

  fs.rmSync(path.join(partialDir, `${digest}.lock`)) // a user cleaning up lock files
  const b = await storeB.fetchFile(url, { digest })
  // B did not resume from A's bytes (they are A's): it asked for the whole file, and stored exactly it.
  expect(requests).toEqual([undefined, undefined])
  expect(fs.readFileSync(b.filePath).equals(body)).toBe(true)
  expect(b.size).toBe(body.length)

  restForA.open()
  const stored = await a
  expect(stored.size).toBe(body.length)
  expect(fs.readFileSync(stored.filePath).equals(body)).toBe(true)
  expect(fs.readdirSync(partialDir).filter(name => !name.endsWith('.lock'))).toEqual([])
})
