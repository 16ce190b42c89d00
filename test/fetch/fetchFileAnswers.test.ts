// fetchFile against servers that answer in every way HTTP allows (and some it does not): what it appends, what
// it starts over, what it refuses, what its errors say, and that it leaves no timer or descriptor behind. Each
// server is a local http.Server in this process whose handler says exactly what it sends.
import fs from 'node:fs'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import path from 'node:path'
import zlib from 'node:zlib'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { openStore, type Store } from '../../lib/index.js'
import { contentOf, sha512Hex } from '../helpers/content.js'
import { sendEndless } from '../helpers/endlessBody.js'
import { listFiles, tempDir } from '../helpers/tmp.js'

interface Asked { range: string | undefined, encoding: string | undefined }
type Handler = (req: http.IncomingMessage, res: http.ServerResponse, nth: number) => void | Promise<void>

const closers: Array<() => Promise<void>> = []
afterEach(async () => {
  vi.useRealTimers()
  for (const close of closers.splice(0)) await close()
})

/** A server whose every answer `handler` writes; returns its URL and what each request asked for. */
async function answering (handler: Handler): Promise<{ url: string, asked: Asked[] }> {
  const asked: Asked[] = []
  const server = http.createServer((req, res) => {
    asked.push({ range: req.headers.range, encoding: req.headers['accept-encoding'] })
    Promise.resolve(handler(req, res, asked.length)).catch(err => res.destroy(err as Error))
  })
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  closers.push(async () => {
    server.closeAllConnections()
    await new Promise(resolve => server.close(resolve))
  })
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/f.bin`, asked }
}

/** A store whose `partial/` holds the first `kept` bytes of `body`'s download. */
async function withPartial (body: Buffer, kept: number): Promise<{ store: Store, partial: string }> {
  const store = await openStore(tempDir())
  const partial = path.join(store.root, 'partial', `${sha512Hex(body)}.partial`)
  fs.mkdirSync(path.dirname(partial), { recursive: true })
  fs.writeFileSync(partial, body.subarray(0, kept))
  return { store, partial }
}

const body = contentOf('answers', 1, 100_000)
const digest = sha512Hex(body)

describe('fetchFile: what a resume accepts', () => {
  it('appends only a 206 that starts where the partial ends; one from elsewhere is refused', async () => {
    const { url } = await answering((req, res) => {
      res.writeHead(206, { 'content-range': `bytes 10-${body.length - 1}/${body.length}`, 'content-length': body.length - 10 })
      res.end(body.subarray(10))
    })
    const { store, partial } = await withPartial(body, 50_000)
    await expect(store.fetchFile(url, { digest })).rejects.toMatchObject({ code: 'ERR_CAS_FETCH_STATUS', status: 206 })
    expect(fs.statSync(partial).size).toBe(50_000) // kept as it was: a later resume may use it
    expect(fs.existsSync(store.filePathFor(digest, 0o644))).toBe(false)
    await store.close()
  })

  it('a 206 without Content-Range cannot be placed: refused as a partial answer', async () => {
    const { url } = await answering((req, res) => {
      res.writeHead(206, { 'content-length': body.length - 50_000 })
      res.end(body.subarray(50_000))
    })
    const { store } = await withPartial(body, 50_000)
    await expect(store.fetchFile(url, { digest })).rejects.toMatchObject({ code: 'ERR_CAS_FETCH_STATUS', status: 206 })
    await store.close()
  })

  it('a 200 is the whole file, whatever Content-Range it carries: it starts over', async () => {
    const { url } = await answering((req, res) => {
      res.writeHead(200, { 'content-range': `bytes 50000-${body.length - 1}/${body.length}`, 'content-length': body.length })
      res.end(body)
    })
    const { store } = await withPartial(body, 50_000)
    const result = await store.fetchFile(url, { digest })
    expect(fs.readFileSync(result.filePath).equals(body)).toBe(true)
    await store.close()
  })

  it('the total comes from Content-Range when the 206 has no Content-Length (chunked)', async () => {
    const { url } = await answering((req, res) => {
      res.writeHead(206, { 'content-range': `bytes 50000-${body.length - 1}/${body.length}` })
      res.write(body.subarray(50_000, 75_000))
      res.end(body.subarray(75_000))
    })
    const { store } = await withPartial(body, 50_000)
    const totals: Array<number | undefined> = []
    const result = await store.fetchFile(url, { digest, onProgress: p => { totals.push(p.total) } })
    expect(fs.readFileSync(result.filePath).equals(body)).toBe(true)
    expect(totals.length).toBeGreaterThan(0)
    expect(totals.every(t => t === body.length)).toBe(true)
    await store.close()
  })

  it('a 416 answered to a partial with wrong bytes, then a 206 to the new full request: refused', async () => {
    const { url, asked } = await answering((req, res, nth) => {
      if (nth === 1) {
        res.writeHead(416, { 'content-range': `bytes */${body.length}` }).end()
        return
      }
      res.writeHead(206, { 'content-range': `bytes 1-${body.length - 1}/${body.length}`, 'content-length': body.length - 1 })
      res.end(body.subarray(1))
    })
    const store = await openStore(tempDir())
    const partial = path.join(store.root, 'partial', `${digest}.partial`)
    fs.mkdirSync(path.dirname(partial), { recursive: true })
    fs.writeFileSync(partial, Buffer.alloc(body.length, 7))
    await expect(store.fetchFile(url, { digest })).rejects.toMatchObject({ code: 'ERR_CAS_FETCH_STATUS', status: 206 })
    expect(asked.map(a => a.range)).toEqual([`bytes=${body.length}-`, undefined])
    await store.close()
  })
})

describe('fetchFile: answers to a request for the whole file', () => {
  it('a 206 (even from byte 0) is refused: nothing is stored, nothing kept', async () => {
    const { url, asked } = await answering((req, res) => {
      res.writeHead(206, { 'content-range': `bytes 0-${body.length - 1}/${body.length}`, 'content-length': body.length })
      res.end(body)
    })
    const store = await openStore(tempDir())
    const fetching = store.fetchFile(url, { digest })
    await expect(fetching).rejects.toMatchObject({ code: 'ERR_CAS_FETCH_STATUS', status: 206, url })
    await expect(fetching).rejects.toThrow('a partial answer (206) to a request for the whole file. Nothing was downloaded; retry.')
    expect(asked).toHaveLength(1)
    expect(fs.existsSync(store.filePathFor(digest, 0o644))).toBe(false)
    await store.close()
  })

  it('a 416 is an HTTP error like any other: one request, no retry', async () => {
    const { url, asked } = await answering((req, res) => { res.writeHead(416).end() })
    const store = await openStore(tempDir())
    await expect(store.fetchFile(url, { digest })).rejects.toMatchObject({ code: 'ERR_CAS_FETCH_STATUS', status: 416 })
    expect(asked).toHaveLength(1)
    await store.close()
  })

  it('asks for the bytes as stored (Accept-Encoding: identity): what it hashes and resumes is the file itself', async () => {
    const { url, asked } = await answering((req, res) => { res.writeHead(200, { 'content-length': body.length }).end(body) })
    const store = await openStore(tempDir())
    await store.fetchFile(url, { digest })
    expect(asked).toEqual([{ range: undefined, encoding: 'identity' }])
    await store.close()
  })

  it('without Content-Length the total is unknown (undefined, not 0)', async () => {
    const { url } = await answering((req, res) => {
      res.writeHead(200)
      res.write(body.subarray(0, 50_000))
      res.end(body.subarray(50_000))
    })
    const store = await openStore(tempDir())
    const totals: Array<number | undefined> = []
    await store.fetchFile(url, { digest, onProgress: p => { totals.push(p.total) } })
    expect(totals.length).toBeGreaterThan(0)
    expect(totals.every(t => t === undefined)).toBe(true)
    await store.close()
  })
})

describe('fetchFile: what its errors say', () => {
  it.each([
    [410, 'HTTP 410 Gone. Nothing was downloaded: check the URL (the server has no such file).'],
    [500, 'HTTP 500 Internal Server Error. Nothing was downloaded; retry.'],
  ])('HTTP %i', async (status, message) => {
    const { url } = await answering((req, res) => { res.writeHead(status).end('no') })
    const store = await openStore(tempDir())
    await expect(store.fetchFile(url, { digest })).rejects.toThrow(message)
    await store.close()
  })

  it('wrong bytes: ERR_CAS_INTEGRITY naming the URL', async () => {
    const { url } = await answering((req, res) => { res.writeHead(200).end(Buffer.alloc(100, 1)) })
    const store = await openStore(tempDir())
    await expect(store.fetchFile(url, { digest })).rejects.toMatchObject({ code: 'ERR_CAS_INTEGRITY', message: expect.stringContaining(`download from ${url}`) })
    await store.close()
  })

  it('a connection cut mid-body: ERR_CAS_FETCH_NETWORK, and the bytes received are kept for a resume', async () => {
    let gotBytes!: () => void
    const received = new Promise<void>(resolve => { gotBytes = resolve })
    const { url } = await answering(async (req, res, nth) => {
      if (nth === 1) {
        res.writeHead(200, { 'content-length': body.length })
        res.write(body.subarray(0, 30_000))
        await received // the client has written bytes to its partial: now cut
        res.destroy()
        return
      }
      const from = Number(/^bytes=(\d+)-$/.exec(req.headers.range ?? '')?.[1])
      res.writeHead(206, { 'content-range': `bytes ${from}-${body.length - 1}/${body.length}`, 'content-length': body.length - from })
      res.end(body.subarray(from))
    })
    const store = await openStore(tempDir())
    const partial = path.join(store.root, 'partial', `${digest}.partial`)
    const cut = store.fetchFile(url, { digest, onProgress: () => gotBytes() })
    await expect(cut).rejects.toMatchObject({ code: 'ERR_CAS_FETCH_NETWORK', url })
    const kept = fs.statSync(partial).size
    expect(kept).toBeGreaterThan(0)
    await expect(cut).rejects.toThrow(`The ${kept} bytes downloaded so far are kept; retry to resume from there.`)
    const result = await store.fetchFile(url, { digest })
    expect(fs.readFileSync(result.filePath).equals(body)).toBe(true)
    await store.close()
  })
})

describe('fetchFile: the stall timer', () => {
  it('a server that never answers: ERR_CAS_FETCH_TIMEOUT after stallTimeoutMs, saying so', async () => {
    const { url } = await answering(() => {}) // accepts the request and never writes a byte
    const store = await openStore(tempDir())
    const fetching = store.fetchFile(url, { digest, stallTimeoutMs: 200 })
    await expect(fetching).rejects.toMatchObject({ code: 'ERR_CAS_FETCH_TIMEOUT', url })
    await expect(fetching).rejects.toThrow('no data for 200 ms')
    await store.close()
  })

  it('restarts with every chunk: a download longer than the stall time, never that long silent, completes', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] })
    const pieces = 5
    const size = body.length / pieces
    const { url } = await answering(async (req, res) => {
      res.writeHead(200, { 'content-length': body.length })
      for (let i = 0; i < pieces; i++) {
        res.write(body.subarray(i * size, (i + 1) * size))
        await new Promise(resolve => setImmediate(resolve))
      }
      res.end()
    })
    const store = await openStore(tempDir())
    // After each chunk, 60% of the stall time passes (fake clock): the whole download takes 3 times as long.
    const onProgress = (): void => { vi.advanceTimersByTime(600) }
    const result = await store.fetchFile(url, { digest, stallTimeoutMs: 1000, onProgress })
    expect(fs.readFileSync(result.filePath).equals(body)).toBe(true)
    await store.close()
  })

  it('is cleared when the download ends: no timer left to keep the process alive', async () => {
    const { url } = await answering((req, res) => { res.writeHead(200, { 'content-length': body.length }).end(body) })
    const store = await openStore(tempDir())
    const stallMs = 987_654 // picks out fetchFile's stall timers among the others (the HTTP client's)
    const armed = new Set<unknown>()
    const setSpy = vi.spyOn(globalThis, 'setTimeout')
    const clearSpy = vi.spyOn(globalThis, 'clearTimeout')
    await store.fetchFile(url, { digest, stallTimeoutMs: stallMs })
    setSpy.mock.calls.forEach((call, i) => { if (call[1] === stallMs) armed.add(setSpy.mock.results[i]!.value) })
    const cleared = new Set(clearSpy.mock.calls.map(call => call[0]))
    vi.restoreAllMocks()
    expect(armed.size).toBeGreaterThan(0)
    expect([...armed].filter(timer => !cleared.has(timer as never))).toEqual([])
    await store.close()
  })
})

describe('fetchFile: what it leaves open', () => {
  it('closes the partial\'s descriptor, on success and when the bytes are wrong', async () => {
    const wrongThenRight: Handler = (_req, res, n) => { res.writeHead(200).end(n === 1 ? Buffer.alloc(9, 1) : body) }
    const { url } = await answering(wrongThenRight)
    const store = await openStore(tempDir())
    const partialDir = path.join(store.root, 'partial')
    const openOnPartials = (): string[] => fs.readdirSync('/proc/self/fd').flatMap(fd => {
      try {
        const target = fs.readlinkSync(path.join('/proc/self/fd', fd))
        return target.startsWith(partialDir) || target.startsWith(path.join(store.root, 'files')) ? [target] : []
      } catch { return [] }
    })
    await expect(store.fetchFile(url, { digest })).rejects.toMatchObject({ code: 'ERR_CAS_INTEGRITY' })
    expect(openOnPartials()).toEqual([])
    await store.fetchFile(url, { digest })
    expect(openOnPartials()).toEqual([])
    await store.close()
  })
})

describe('fetchFile: content found in place', () => {
  it('is used only if it hashes right: wrong bytes at the content path are downloaded over', async () => {
    const { url, asked } = await answering((req, res) => { res.writeHead(200, { 'content-length': body.length }).end(body) })
    const store = await openStore(tempDir())
    const filePath = store.filePathFor(digest, 0o644)
    fs.mkdirSync(path.dirname(filePath), { recursive: true })
    fs.writeFileSync(filePath, Buffer.alloc(body.length, 3)) // same size, wrong bytes
    const result = await store.fetchFile(url, { digest })
    expect(result).toEqual({ digest, filePath, size: body.length })
    expect(fs.readFileSync(filePath).equals(body)).toBe(true)
    expect(asked).toHaveLength(1)
    await store.close()
  })
})

describe('fetchFile: size and maxBytes bound what a server can send', () => {
  const JUNK_CAP = 256 * 1024 * 1024

  /** A server that sends `body`, then junk without end (chunked), until the client hangs up or JUNK_CAP is out. */
  async function endless (): Promise<{ url: string, sent: () => number }> {
    let sent = 0
    const { url } = await answering((req, res) => { sendEndless(res, body, JUNK_CAP, n => { sent += n }) })
    return { url, sent: () => sent }
  }

  /** What `partial/` holds besides lock files: nothing, after a refused download. */
  const keptIn = (store: Store): string[] => listFiles(path.join(store.root, 'partial')).filter(n => !n.endsWith('.lock'))

  it('size: a body that runs past it is cut off at once with ERR_CAS_FETCH_SIZE, and nothing of it is kept', async () => {
    const { url, sent } = await endless()
    const store = await openStore(tempDir())
    const refused = store.fetchFile(url, { digest, size: body.length })
    await expect(refused).rejects.toMatchObject({ code: 'ERR_CAS_FETCH_SIZE', url })
    await expect(refused).rejects.toThrow(`more than the ${body.length} bytes expected`)
    // What the server got out before the client hung up: the file, a socket's buffers, no more.
    expect(sent()).toBeLessThan(32 * 1024 * 1024)
    expect(keptIn(store)).toEqual([])
    expect(fs.existsSync(store.filePathFor(digest, 0o644))).toBe(false)
    await store.close()
  })

  it('maxBytes: the same for a file whose exact size is not known', async () => {
    const { url, sent } = await endless()
    const store = await openStore(tempDir())
    await expect(store.fetchFile(url, { digest, maxBytes: 150_000 })).rejects
      .toMatchObject({ code: 'ERR_CAS_FETCH_SIZE', message: expect.stringContaining('more than the 150000 bytes expected') })
    expect(sent()).toBeLessThan(32 * 1024 * 1024)
    expect(keptIn(store)).toEqual([])
    await store.close()
  })

  it('a server that announces another size is refused before its body is read; the right size is fetched', async () => {
    const { url } = await answering((req, res) => { res.writeHead(200, { 'content-length': body.length }).end(body) })
    const store = await openStore(tempDir())
    await expect(store.fetchFile(url, { digest, size: body.length - 1 })).rejects
      .toMatchObject({ code: 'ERR_CAS_FETCH_SIZE', message: expect.stringContaining(`is ${body.length} bytes; ${body.length - 1} were expected`) })
    await expect(store.fetchFile(url, { digest, size: body.length + 1 })).rejects // fewer bytes than expected
      .toMatchObject({ code: 'ERR_CAS_FETCH_SIZE', message: expect.stringContaining(`${body.length + 1} were expected`) })
    await expect(store.fetchFile(url, { digest, maxBytes: body.length - 1 })).rejects
      .toMatchObject({ code: 'ERR_CAS_FETCH_SIZE', message: expect.stringContaining(`at most ${body.length - 1} are accepted`) })
    // `Content-Encoding: identity` is the file's own bytes: its length is the file's.
    const { url: plainUrl, asked } = await answering((req, res) => {
      res.writeHead(200, { 'content-encoding': 'identity', 'content-length': body.length }).end(body)
    })
    await expect(store.fetchFile(plainUrl, { digest, size: body.length - 1 })).rejects // refused as announced, unread
      .toMatchObject({ code: 'ERR_CAS_FETCH_SIZE', message: expect.stringContaining(`is ${body.length} bytes; ${body.length - 1} were expected`) })
    expect(asked).toHaveLength(1)
    expect(keptIn(store)).toEqual([])
    const result = await store.fetchFile(url, { digest, size: body.length, maxBytes: body.length })
    expect(fs.readFileSync(result.filePath).equals(body)).toBe(true)
    await store.close()
  })

  it('a kept partial as long as size is checked without a request, and stored when it hashes right', async () => {
    const { url, asked } = await answering((req, res) => { res.writeHead(200, { 'content-length': body.length }).end(body) })
    const { store, partial } = await withPartial(body, body.length)
    const result = await store.fetchFile(url, { digest, size: body.length })
    expect(asked).toHaveLength(0)
    expect(fs.readFileSync(result.filePath).equals(body)).toBe(true)
    expect(fs.existsSync(partial)).toBe(false)
    await store.close()
  })

  it('a kept partial as long as size but wrong, or longer than maxBytes, is fetched again from byte 0', async () => {
    for (const [kept, options] of [
      [Buffer.alloc(body.length, 5), { size: body.length }],
      [Buffer.concat([body, Buffer.alloc(10)]), { maxBytes: body.length }],
    ] as const) {
      const { url, asked } = await answering((req, res) => { res.writeHead(200, { 'content-length': body.length }).end(body) })
      const { store, partial } = await withPartial(body, 0)
      fs.writeFileSync(partial, kept)
      const result = await store.fetchFile(url, { digest, ...options })
      expect(asked.map(a => a.range)).toEqual([undefined])
      expect(fs.readFileSync(result.filePath).equals(body)).toBe(true)
      await store.close()
    }
  })

  it('a server that gzips though asked not to: its encoded length is not held against the file, its inflated bytes are', async () => {
    const gz = zlib.gzipSync(body) // a little larger than body: its bytes do not compress
    const { url } = await answering((req, res) => { res.writeHead(200, { 'content-encoding': 'gzip', 'content-length': gz.length }).end(gz) })
    for (const options of [{ size: body.length }, { maxBytes: body.length }]) {
      const store = await openStore(tempDir())
      const result = await store.fetchFile(url, { digest, ...options })
      expect(fs.readFileSync(result.filePath).equals(body)).toBe(true)
      await store.close()
    }
    // And a small encoded body that inflates past maxBytes is still cut off, as it inflates.
    const zeros = Buffer.alloc(4 * 1024 * 1024)
    const bomb = zlib.gzipSync(zeros)
    const { url: bombUrl } = await answering((req, res) => { res.writeHead(200, { 'content-encoding': 'gzip', 'content-length': bomb.length }).end(bomb) })
    const store = await openStore(tempDir())
    await expect(store.fetchFile(bombUrl, { digest: sha512Hex(zeros), maxBytes: 100_000 })).rejects
      .toMatchObject({ code: 'ERR_CAS_FETCH_SIZE', message: expect.stringContaining('more than the 100000 bytes expected') })
    expect(keptIn(store)).toEqual([])
    await store.close()
  })

  it('size over maxBytes is refused up front: no download could pass both', async () => {
    const store = await openStore(tempDir())
    await expect(store.fetchFile('http://127.0.0.1:9/f.bin', { digest, size: 1000, maxBytes: 999 })).rejects
      .toMatchObject({ code: 'ERR_CAS_INVALID_ARGUMENT', message: expect.stringContaining('size (1000) is over maxBytes (999)') })
    await store.close()
  })

  it('size and maxBytes must be whole numbers of bytes (0 is one: an empty file)', async () => {
    const store = await openStore(tempDir())
    const { url } = await answering((req, res) => { res.writeHead(200, { 'content-length': 0 }).end() })
    const empty = await store.fetchFile(url, { digest: sha512Hex(Buffer.alloc(0)), size: 0, maxBytes: 0 })
    expect(empty.size).toBe(0)
    for (const options of [{ size: -1 }, { size: 1.5 }, { maxBytes: Number.NaN }, { maxBytes: '10' as unknown as number }]) {
      await expect(store.fetchFile('http://127.0.0.1:9/f.bin', { digest, ...options }))
        .rejects.toMatchObject({ code: 'ERR_CAS_INVALID_ARGUMENT' })
    }
    await store.close()
  })
})
