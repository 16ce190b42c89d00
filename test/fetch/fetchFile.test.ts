import fs from 'node:fs'
import path from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { hexToSri, openStore } from '../../lib/index.js'
import { runFixture } from '../helpers/child.js'
import { gate } from '../helpers/gate.js'
import { contentOf, sha512Hex } from '../helpers/content.js'
import { startServer, type TestServer } from '../helpers/server.js'
import { listFiles, tempDir } from '../helpers/tmp.js'

const servers: TestServer[] = []
afterEach(async () => { for (const s of servers.splice(0)) await s.close() })

async function serve (body: Buffer, options?: Parameters<typeof startServer>[1]): Promise<TestServer> {
  const server = await startServer(body, options)
  servers.push(server)
  return server
}

describe('fetchFile', () => {
  it('downloads into the store, and a second call finds it there without a request', async () => {
    const body = contentOf('fetch', 1, 300_000)
    const server = await serve(body)
    const store = await openStore(tempDir())
    const progress: number[] = []
    const digest = sha512Hex(body)
    const onProgress = (p: { received: number }): number => progress.push(p.received)
    const result = await store.fetchFile(server.url, { integrity: hexToSri(digest), onProgress })
    expect(result).toEqual({ digest, filePath: store.filePathFor(digest, 0o644), size: body.length })
    expect(fs.readFileSync(result.filePath).equals(body)).toBe(true)
    expect(progress.at(-1)).toBe(body.length)
    expect(await store.fetchFile(server.url, { digest: sha512Hex(body) })).toEqual(result)
    expect(server.served).toHaveLength(1)
    expect(listFiles(path.join(store.root, 'partial')).filter(f => !f.endsWith('.lock'))).toEqual([])
    await store.close()
  })

  it('the download race: five processes, one download, everyone gets the file', async () => {
    const body = contentOf('race', 1, 6 * 1024 * 1024)
    const server = await serve(body, { delayMs: 2 })
    const dir = tempDir()
    const digest = sha512Hex(body)
    const children = [0, 1, 2, 3, 4].map(() => runFixture('fetch.ts', [dir, server.url, digest]))
    const results = await Promise.all(children.map(async c => await c.line(l => l.startsWith('RESULT') || l.startsWith('ERROR'))))
    expect(results.every(r => r.startsWith('RESULT'))).toBe(true)
    expect(new Set(results).size).toBe(1)
    expect(server.served).toHaveLength(1)
    expect(server.served[0]).toMatchObject({ status: 200, sent: body.length, completed: true })
    const filePath = JSON.parse(results[0]!.slice('RESULT '.length)).filePath as string
    expect(fs.readFileSync(filePath).equals(body)).toBe(true)
  })

  it.each([
    ['answers 206: the download resumes from the partial bytes', true],
    ['ignores Range (200): the download starts over', false],
  ])('a downloader killed at half, then a server that %s; the file verifies', async (_what, honourRange) => {
    const body = contentOf('resume', 1, 4 * 1024 * 1024)
    const digest = sha512Hex(body)
    const server = await serve(body)
    server.pauseAfter = body.length / 2 + 64 * 1024
    const dir = tempDir()
    const child = runFixture('fetch.ts', [dir, server.url, digest])
    await child.line(l => l === 'HALF')
    child.proc.kill('SIGKILL')
    await child.exited
    // The killed download could not park its bytes: they are in its own file, `<digest>.<its unique id>.cas-tmp`.
    const partialDir = path.join(dir, 'v11', 'partial')
    const left = fs.readdirSync(partialDir).filter(name => name.startsWith(`${digest}.`) && name.endsWith('.cas-tmp'))
    expect(left).toHaveLength(1)
    const partial = path.join(partialDir, left[0]!)
    const kept = fs.statSync(partial).size
    expect(kept).toBeGreaterThanOrEqual(body.length / 2)
    expect(kept).toBeLessThan(body.length)

    server.pauseAfter = undefined
    server.resume()
    server.honourRange = honourRange
    const store = await openStore(dir)
    const result = await store.fetchFile(server.url, { digest })
    expect(fs.readFileSync(result.filePath).equals(body)).toBe(true)
    const second = server.served[1]!
    expect(second.range).toBe(`bytes=${kept}-`)
    expect(second.status).toBe(honourRange ? 206 : 200)
    expect(second.sent).toBe(honourRange ? body.length - kept : body.length)
    expect(fs.existsSync(partial)).toBe(false)
    expect(fs.readdirSync(partialDir).filter(name => !name.endsWith('.lock'))).toEqual([])
    await store.close()
  })

  it('a lying server: ERR_CAS_INTEGRITY, nothing stored, no partial kept', async () => {
    const body = contentOf('truth', 1, 200_000)
    const server = await serve(contentOf('lie', 1, 200_000))
    const store = await openStore(tempDir())
    await expect(store.fetchFile(server.url, { digest: sha512Hex(body) })).rejects.toMatchObject({ code: 'ERR_CAS_INTEGRITY' })
    expect(listFiles(path.join(store.root, 'files'))).toEqual([])
    expect(listFiles(path.join(store.root, 'partial')).filter(f => !f.endsWith('.lock'))).toEqual([])
    await store.close()
  })

  it('HTTP errors and unreachable servers are coded errors naming the URL', async () => {
    const server = await serve(Buffer.from('x'), { status: 404 })
    const store = await openStore(tempDir())
    const digest = sha512Hex('x')
    const notFound = store.fetchFile(server.url, { digest })
    await expect(notFound).rejects.toMatchObject({ code: 'ERR_CAS_FETCH_STATUS', status: 404, url: server.url })
    // Nothing was downloaded, so nothing to resume: the message must not promise a partial.
    await expect(notFound).rejects.toThrow('HTTP 404 Not Found. Nothing was downloaded: check the URL')
    await expect(notFound).rejects.not.toThrow(/partial|resume/)
    await server.close()
    await expect(store.fetchFile(server.url, { digest })).rejects.toMatchObject({ code: 'ERR_CAS_FETCH_NETWORK', url: server.url })
    await expect(store.fetchFile(server.url, {})).rejects.toMatchObject({ code: 'ERR_CAS_INVALID_ARGUMENT' })
    await expect(store.fetchFile(server.url, { digest: 'nope' })).rejects.toMatchObject({ code: 'ERR_CAS_BAD_DIGEST' })
    await store.close()
  })

  it('a stalled server fails with ERR_CAS_FETCH_TIMEOUT and keeps the partial for a resume', async () => {
    const body = contentOf('stall', 1, 1024 * 1024)
    const server = await serve(body)
    server.pauseAfter = 256 * 1024
    const store = await openStore(tempDir())
    const stalled = store.fetchFile(server.url, { digest: sha512Hex(body), stallTimeoutMs: 300 })
    await expect(stalled).rejects.toMatchObject({ code: 'ERR_CAS_FETCH_TIMEOUT', url: server.url })
    const partial = path.join(store.root, 'partial', `${sha512Hex(body)}.partial`)
    expect(fs.statSync(partial).size).toBeGreaterThan(0)
    await expect(stalled).rejects.toThrow(`The ${fs.statSync(partial).size} bytes downloaded so far are kept; retry to resume from there.`)
    server.pauseAfter = undefined
    server.resume()
    const result = await store.fetchFile(server.url, { digest: sha512Hex(body) })
    expect(fs.readFileSync(result.filePath).equals(body)).toBe(true)
    expect(server.served.at(-1)!.status).toBe(206)
    await store.close()
  })
})

describe('fetchFile finds the content already stored', () => {
  const GRACE = 10 * 60_000

  it('claims it (like a writer\'s dedupe hit): a prune that removes it first makes fetchFile download it after all', async () => {
    const body = contentOf('fetch-claim', 1, 20_000)
    const digest = sha512Hex(body)
    const server = await serve(body)
    const dir = tempDir()
    const pruner = await openStore(dir, { _now: () => Date.now() + 2 * GRACE })
    const { filePath } = await pruner.ensureFile(body, { mode: 0o644 }) // left behind by an uninstalled package
    const parked = gate()
    const store = await openStore(dir, { _hooks: { 'writer:deduped': parked.wait } })

    const fetching = store.fetchFile(server.url, { digest })
    // It hashed the file in place and is about to claim it; one that answers "in the store" unclaimed is the bug.
    expect(await Promise.race([parked.reached.then(() => 'parked'), fetching.then(() => 'returned unclaimed')])).toBe('parked')
    const pruned = await pruner.pruneStore({ graceMs: GRACE, allowNoIndexes: true })
    expect(pruned.removed.count).toBe(1)
    parked.open()

    expect(await fetching).toEqual({ digest, filePath, size: body.length })
    expect(fs.readFileSync(filePath).equals(body)).toBe(true)
    expect(server.served).toHaveLength(1)
    await store.close()
    await pruner.close()
  })

  it('and the claim keeps a later prune off it, though the content is old and unreferenced', async () => {
    const body = contentOf('fetch-claim', 2, 20_000)
    const server = await serve(body)
    let now = Date.now
    const store = await openStore(tempDir(), { _now: () => now() })
    const { filePath } = await store.ensureFile(body, { mode: 0o644 })
    const seededAt = fs.statSync(filePath).ctimeMs
    // File timestamps tick at the kernel's clock granularity (a few ms): let one tick pass so the claim shows.
    while (Date.now() < seededAt + 50) await new Promise(resolve => setImmediate(resolve))
    await store.fetchFile(server.url, { digest: sha512Hex(body) })
    expect(server.served).toHaveLength(0)
    now = () => seededAt + GRACE + 25
    const pruned = await store.pruneStore({ graceMs: GRACE, allowNoIndexes: true })
    expect(pruned).toMatchObject({ removed: { count: 0 }, keptYoung: 1 })
    expect(fs.readFileSync(filePath).equals(body)).toBe(true)
    await store.close()
  })
})

describe('fetchFile in one process', () => {
  it('two calls at once: one downloads, the other waits for the key lock, then claims what it finds', async () => {
    const body = contentOf('fetch-twice', 1, 50_000)
    const digest = sha512Hex(body)
    const server = await serve(body)
    const claims: boolean[] = [] // for each claim: was the content there to claim?
    const store = await openStore(tempDir(), { _hooks: { 'writer:deduped': ({ path: p }) => { claims.push(fs.existsSync(p)) } } })
    const progress: Array<number | undefined> = []
    const [a, b] = await Promise.all([
      store.fetchFile(server.url, { digest, onProgress: p => progress.push(p.total) }),
      store.fetchFile(server.url, { digest, onProgress: p => progress.push(p.total) }),
    ])
    expect(a).toEqual(b)
    expect(server.served).toHaveLength(1)
    expect(claims).toEqual([true]) // the waiter found the file under the key lock and claimed it
    expect(progress.length).toBeGreaterThan(0)
    expect(progress.every(total => total === body.length)).toBe(true) // from Content-Length
    await store.close()
  })

  it('mode picks the content path: executable content goes to -exec', async () => {
    const body = Buffer.from('#!/bin/sh\necho fetched\n')
    const server = await serve(body)
    const store = await openStore(tempDir())
    const result = await store.fetchFile(server.url, { digest: sha512Hex(body), mode: 0o755 })
    expect(result.filePath).toBe(store.filePathFor(sha512Hex(body), 0o755))
    expect(result.filePath).toMatch(/-exec$/)
    expect(fs.statSync(result.filePath).mode & 0o111).not.toBe(0)
    await expect(store.fetchFile(server.url, {})).rejects.toThrow('fetchFile: pass the expected `digest` or `integrity`')
    await store.close()
  })
})

describe('fetchFile resumes a partial left in the store (in this process)', () => {
  type Opened = Awaited<ReturnType<typeof openStore>>
  async function withPartial (body: Buffer, partialBytes: Buffer): Promise<{ store: Opened, partial: string }> {
    const store = await openStore(tempDir())
    const partial = path.join(store.root, 'partial', `${sha512Hex(body)}.partial`)
    fs.mkdirSync(path.dirname(partial), { recursive: true })
    fs.writeFileSync(partial, partialBytes)
    return { store, partial }
  }

  it('a right first half: asks for the rest (206), appends, reports the whole size and where it resumed', async () => {
    const body = contentOf('resume-here', 1, 300_000)
    const server = await serve(body)
    const { store, partial } = await withPartial(body, body.subarray(0, 100_000))
    const progress: Array<{ received: number, total: number | undefined, resumedFrom: number }> = []
    const result = await store.fetchFile(server.url, { digest: sha512Hex(body), onProgress: p => progress.push(p) })
    expect(fs.readFileSync(result.filePath).equals(body)).toBe(true)
    expect(server.served.map(r => [r.range, r.status, r.sent])).toEqual([['bytes=100000-', 206, 200_000]])
    expect(progress.every(p => p.total === body.length && p.resumedFrom === 100_000)).toBe(true)
    expect(progress.at(-1)!.received).toBe(body.length)
    expect(fs.existsSync(partial)).toBe(false)
    await store.close()
  })

  it('a server that ignores Range (200): starts over from byte 0', async () => {
    const body = contentOf('resume-here', 2, 200_000)
    const server = await serve(body)
    server.honourRange = false
    const { store } = await withPartial(body, body.subarray(0, 50_000))
    const progress: number[] = []
    const onProgress = (p: { resumedFrom: number }): void => { progress.push(p.resumedFrom) }
    const result = await store.fetchFile(server.url, { digest: sha512Hex(body), onProgress })
    expect(fs.readFileSync(result.filePath).equals(body)).toBe(true)
    expect(server.served.map(r => [r.range, r.status, r.sent])).toEqual([['bytes=50000-', 200, body.length]])
    expect(progress.every(from => from === 0)).toBe(true)
    await store.close()
  })

  it('kept bytes longer than the file and a server that ignores Range (200): what is stored is exactly the file', async () => {
    const body = contentOf('resume-here', 10, 100_000)
    const server = await serve(body)
    server.honourRange = false
    const { store } = await withPartial(body, Buffer.alloc(body.length + 5_000, 7)) // an older, longer version
    const result = await store.fetchFile(server.url, { digest: sha512Hex(body) })
    expect(fs.readFileSync(result.filePath).equals(body)).toBe(true)
    expect(server.served.map(r => r.status)).toEqual([200])
    await store.close()
  })

  it('a partial that is already whole: the server says 416, and the partial is used as it is', async () => {
    const body = contentOf('resume-here', 3, 100_000)
    const server = await serve(body)
    const { store } = await withPartial(body, body)
    const result = await store.fetchFile(server.url, { digest: sha512Hex(body) })
    expect(result.size).toBe(body.length)
    expect(fs.readFileSync(result.filePath).equals(body)).toBe(true)
    expect(server.served.map(r => [r.status, r.sent])).toEqual([[416, 0]])
    await store.close()
  })

  it('of several partials left by killed downloads, the largest is resumed and the others removed', async () => {
    const body = contentOf('resume-here', 9, 200_000)
    const digest = sha512Hex(body)
    const server = await serve(body)
    const store = await openStore(tempDir())
    const partialDir = path.join(store.root, 'partial')
    fs.mkdirSync(partialDir, { recursive: true })
    // Own files of downloads whose writers are gone: their owner records are there, and nobody holds them.
    const dead = (id: string, bytes: number): string => {
      const file = path.join(partialDir, `${digest}.${id}.cas-tmp`)
      fs.writeFileSync(file, body.subarray(0, bytes))
      const [pid, thread, , random] = id.split('-')
      fs.mkdirSync(path.join(store.root, 'owners'), { recursive: true })
      fs.writeFileSync(path.join(store.root, 'owners', `${pid}-${thread}-${random}.cas-owner`), '')
      return file
    }
    dead('999901-0-1-00000000000000aa', 40_000)
    dead('999902-0-1-00000000000000bb', 120_000)
    dead('999903-0-1-00000000000000cc', 80_000)
    // Another digest's, its writer gone too (its owner record there and free), and larger than all: not this
    // download's to take or remove.
    const other = `${'0'.repeat(128)}.999904-0-1-00000000000000dd.cas-tmp`
    fs.writeFileSync(path.join(partialDir, other), body.subarray(0, 150_000))
    fs.writeFileSync(path.join(store.root, 'owners', '999904-0-00000000000000dd.cas-owner'), '')
    const result = await store.fetchFile(server.url, { digest })
    expect(fs.readFileSync(result.filePath).equals(body)).toBe(true)
    expect(server.served.map(r => [r.range, r.status])).toEqual([['bytes=120000-', 206]])
    expect(fs.readdirSync(partialDir).filter(name => !name.endsWith('.lock'))).toEqual([other])
    await store.close()
  })

  it('a download\'s own file whose owner record is missing (removed by hand) is not adopted: its writer may live', async () => {
    const body = contentOf('resume-here', 11, 100_000)
    const digest = sha512Hex(body)
    const server = await serve(body)
    const store = await openStore(tempDir())
    const partialDir = path.join(store.root, 'partial')
    fs.mkdirSync(partialDir, { recursive: true })
    const unknown = path.join(partialDir, `${digest}.999905-0-1-00000000000000ee.cas-tmp`)
    fs.writeFileSync(unknown, body.subarray(0, 60_000))
    const result = await store.fetchFile(server.url, { digest })
    expect(fs.readFileSync(result.filePath).equals(body)).toBe(true)
    expect(server.served.map(r => [r.range, r.status])).toEqual([[undefined, 200]]) // downloaded whole
    expect(fs.statSync(unknown).size).toBe(60_000) // left alone (the cleaners reclaim it past the grace)
    await store.close()
  })

  it('a partial of another version of the file: the resumed whole fails the hash, so it is fetched once more from byte 0', async () => {
    const now = contentOf('resume-here', 5, 200_000) // what is asked for, and what the server serves now
    const before = contentOf('resume-here', 6, 200_000) // what it served when an earlier download was cut
    const server = await serve(now)
    const { store, partial } = await withPartial(now, before.subarray(0, 80_000))
    const result = await store.fetchFile(server.url, { digest: sha512Hex(now) })
    expect(fs.readFileSync(result.filePath).equals(now)).toBe(true)
    expect(server.served.map(r => [r.range, r.status])).toEqual([['bytes=80000-', 206], [undefined, 200]])
    expect(fs.existsSync(partial)).toBe(false)
    await store.close()
  })

  it('and once only: a server that keeps serving other bytes fails with ERR_CAS_INTEGRITY, nothing kept', async () => {
    const wanted = contentOf('resume-here', 7, 100_000)
    const server = await serve(contentOf('resume-here', 8, 100_000))
    const { store, partial } = await withPartial(wanted, wanted.subarray(0, 40_000))
    await expect(store.fetchFile(server.url, { digest: sha512Hex(wanted) })).rejects.toMatchObject({ code: 'ERR_CAS_INTEGRITY' })
    expect(server.served.map(r => [r.range, r.status])).toEqual([['bytes=40000-', 206], [undefined, 200]])
    expect(fs.readdirSync(path.dirname(partial)).filter(name => !name.endsWith('.lock'))).toEqual([])
    await store.close()
  })

  it('a whole-length partial with wrong bytes: 416, then the whole file again from byte 0', async () => {
    const body = contentOf('resume-here', 4, 100_000)
    const server = await serve(body)
    const { store } = await withPartial(body, Buffer.alloc(body.length, 9))
    const result = await store.fetchFile(server.url, { digest: sha512Hex(body) })
    expect(fs.readFileSync(result.filePath).equals(body)).toBe(true)
    expect(server.served.map(r => [r.range, r.status])).toEqual([['bytes=100000-', 416], [undefined, 200]])
    await store.close()
  })
})
