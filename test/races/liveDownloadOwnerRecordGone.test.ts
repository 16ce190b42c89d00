// A live download's own file whose owner record is gone (a user cleaning owners/, as users clean lock files) is
// judged by age alone. A cleaner still leaves it: kept bytes are removed only while their digest's key lock is free,
// and a download holds that lock. A user may still remove the file by hand mid-download: the download works
// through one descriptor on its file (kept bytes hashed, new bytes written, mode and sync set through it), so what
// it hashed is what its file holds, and the rename then fails with ERR_CAS_TEMP_LOST, as the README promises for
// any temp removed behind a writer's back. Before, it hashed and opened the file by name: removed between the
// resume's hash and its open('a'), the tail alone was stored under the digest (wrong bytes); removed mid-body, a
// bare ENOENT.
// Deterministic: the server holds each answer until the test has run the cleaner (a real `cas prune` child) or
// removed the file.
import fs from 'node:fs'
import http from 'node:http'
import path from 'node:path'
import { afterEach, expect, it } from 'vitest'
import { openStore } from '../../lib/index.js'
import { runCas } from '../helpers/cas.js'
import { contentOf, sha512Hex } from '../helpers/content.js'
import { gate, type Gate } from '../helpers/gate.js'
import { tempDir } from '../helpers/tmp.js'
import { listenLoopback } from '../helpers/listen.js'

const closers: Array<() => Promise<void>> = []
afterEach(async () => { for (const close of closers.splice(0)) await close() })

const body = contentOf('owner-record-gone', 1, 100_000)
const digest = sha512Hex(body)
const FIRST = 30_000

interface Plan { drop: boolean, held: Gate, heldAt: Gate }

/** Request n follows plans[n]: a full answer sends FIRST bytes, waits at `held`, then drops or sends the rest. */
async function server (plans: Plan[]): Promise<{ url: string, ranges: Array<string | undefined> }> {
  const ranges: Array<string | undefined> = []
  const srv = http.createServer((req, res) => {
    (async () => {
      const plan = plans[ranges.push(req.headers.range) - 1]!
      const from = Number(/^bytes=(\d+)-$/.exec(req.headers.range ?? '')?.[1] ?? 0)
      if (from > 0) {
        await plan.held.wait() // the client has hashed its kept bytes and waits for this answer
        res.writeHead(206, { 'content-length': body.length - from, 'content-range': `bytes ${from}-${body.length - 1}/${body.length}` })
        res.end(body.subarray(from))
        return
      }
      res.writeHead(200, { 'content-length': body.length })
      res.write(body.subarray(0, FIRST))
      await plan.heldAt.reached // the client reported FIRST bytes on disk
      await plan.held.wait()
      if (plan.drop) res.destroy()
      else res.end(body.subarray(FIRST))
    })().catch(err => res.destroy(err as Error))
  })
  const { url, close } = await listenLoopback(srv)
  closers.push(close)
  return { url, ranges }
}

const plan = (drop: boolean): Plan => ({ drop, held: gate(), heldAt: gate() })
const onFirst = (p: Plan) => ({ received }: { received: number }) => {
  if (received >= FIRST) p.heldAt.wait().catch(() => {})
}
const prune = async (dir: string): Promise<void> => {
  const run = await runCas(['prune', '--store', dir, '--grace', '0', '--force', '--json'])
  expect(run.code).toBe(0)
}
const ownFiles = (root: string): string[] => fs.readdirSync(path.join(root, 'partial'))
  .filter(name => name.startsWith(`${digest}.`) && name.endsWith('.cas-tmp')).map(name => path.join(root, 'partial', name))

/** A store whose first download of the digest failed (FIRST bytes parked), then lost its owner record. */
async function parkedWithoutOwnerRecord (first: Plan, url: string): Promise<Awaited<ReturnType<typeof openStore>>> {
  const store = await openStore(tempDir())
  closers.unshift(async () => { await store.close() })
  first.held.open()
  const failed = await store.fetchFile(url, { digest, onProgress: onFirst(first) }).then(() => 'stored', (e: { code?: string }) => e.code)
  expect(failed).toBe('ERR_CAS_FETCH_NETWORK')
  fs.rmSync(path.join(store.root, 'owners'), { recursive: true }) // a user cleaning up
  return store
}

it('cas prune (grace 0) leaves a resumed download\'s own file, though its owner record is gone: the right bytes are stored', async () => {
  const first = plan(true)
  const resumed = plan(false)
  const { url, ranges } = await server([first, resumed])
  const store = await parkedWithoutOwnerRecord(first, url)
  const fetching = store.fetchFile(url, { digest, stallTimeoutMs: 600_000 }).then(r => r, (e: unknown) => e)
  await resumed.held.reached // the kept FIRST bytes are adopted and hashed; the Range request is in
  expect(ranges.at(-1)).toBe(`bytes=${FIRST}-`)
  const own = ownFiles(store.root)
  expect(own).toHaveLength(1)
  await prune(path.dirname(store.root))
  expect(ownFiles(store.root)).toEqual(own) // the digest's key lock is held: nothing of it is removed
  resumed.held.open()
  const result = await fetching as { filePath: string }
  expect(sha512Hex(fs.readFileSync(result.filePath))).toBe(digest)
}, 60_000)

it('a resumed download whose own file is removed by hand after the resume\'s hash never stores wrong bytes', async () => {
  const first = plan(true)
  const resumed = plan(false)
  const { url } = await server([first, resumed])
  const store = await parkedWithoutOwnerRecord(first, url)
  const fetching = store.fetchFile(url, { digest, stallTimeoutMs: 600_000 }).then(r => r, (e: unknown) => e)
  await resumed.held.reached
  for (const file of ownFiles(store.root)) fs.rmSync(file)
  resumed.held.open()
  const result = await fetching as { filePath?: string, code?: string }
  expect(result.filePath).toBeUndefined()
  expect(result.code).toBe('ERR_CAS_TEMP_LOST')
  expect(fs.existsSync(store.filePathFor(digest, 0o644))).toBe(false)
}, 60_000)

it('a download whose own file is removed by hand mid-body fails with ERR_CAS_TEMP_LOST, not a bare ENOENT', async () => {
  const only = plan(false)
  const { url } = await server([only])
  const store = await openStore(tempDir())
  closers.unshift(async () => { await store.close() })
  const fetching = store.fetchFile(url, { digest, stallTimeoutMs: 600_000, onProgress: onFirst(only) })
    .then(r => r, (e: unknown) => e)
  await only.held.reached // FIRST bytes in the download's own file, the rest held back
  for (const file of ownFiles(store.root)) fs.rmSync(file)
  only.held.open()
  const result = await fetching as { filePath?: string, code?: string }
  expect(result.filePath).toBeUndefined()
  expect(result.code).toBe('ERR_CAS_TEMP_LOST') // README: "A temp removed behind a writer's back fails it with ERR_CAS_TEMP_LOST"
}, 60_000)
