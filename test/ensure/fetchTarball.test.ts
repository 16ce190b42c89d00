// fetchTarball, called directly against a local HTTP server that records what it was asked and answers as told:
// what it asks for, which answers it refuses (each a FetchError naming the URL and saying why), and its stream's
// two promises: an early stop drops the connection, and only the network (never a busy consumer) can stall it.
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterEach, describe, expect, it } from 'vitest'
import { fetchTarball } from '../../lib/ensure/fetchTarball.js'
import { signal } from '../helpers/gate.js'

type Handler = (req: http.IncomingMessage, res: http.ServerResponse) => void
const servers: http.Server[] = []
afterEach(async () => {
  for (const server of servers.splice(0)) {
    server.closeAllConnections()
    await new Promise(resolve => server.close(resolve))
  }
})

async function serve (handler: Handler): Promise<string> {
  const server = http.createServer(handler)
  servers.push(server)
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}/pkg.tgz`
}

async function readAll (stream: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const chunks: Uint8Array[] = []
  for await (const chunk of stream) chunks.push(chunk)
  return Buffer.concat(chunks)
}

const BODY = Buffer.alloc(256 * 1024, 7)

describe('fetchTarball', () => {
  it('asks for the bytes as published (accept-encoding: identity), with the caller\'s headers', async () => {
    let headers: http.IncomingHttpHeaders | undefined
    const url = await serve((req, res) => {
      headers = req.headers
      res.end(BODY)
    })
    const got = await readAll(await fetchTarball(url, { headers: { authorization: 'Bearer secret' } }))
    expect(got.equals(BODY)).toBe(true)
    expect(headers).toMatchObject({ 'accept-encoding': 'identity', authorization: 'Bearer secret' })
  })

  it('a 404 is ERR_CAS_FETCH_STATUS saying "HTTP 404 Not Found" and naming the URL', async () => {
    const url = await serve((_req, res) => { res.writeHead(404).end('no such package') })
    const err = await fetchTarball(url).catch((e: unknown) => e as Error)
    expect(err).toMatchObject({ code: 'ERR_CAS_FETCH_STATUS', status: 404, url })
    expect((err as Error).message).toContain(`Downloading ${url} failed: HTTP 404 Not Found.`)
  })

  it('a 206 (part of the file) to a request for the whole file is refused, saying so', async () => {
    const url = await serve((_req, res) => {
      res.writeHead(206, { 'content-range': `bytes 0-99/${BODY.length}` }).end(BODY.subarray(0, 100))
    })
    const err = await fetchTarball(url).catch((e: unknown) => e as Error)
    expect(err).toMatchObject({ code: 'ERR_CAS_FETCH_STATUS', status: 206, url })
    expect((err as Error).message).toContain('a partial answer (206) to a request for the whole file')
  })

  it('a success without a body (204) is ERR_CAS_FETCH_STATUS, not a crash on a missing stream', async () => {
    const url = await serve((_req, res) => { res.writeHead(204).end() })
    const err = await fetchTarball(url).catch((e: unknown) => e as Error)
    expect(err).toMatchObject({ code: 'ERR_CAS_FETCH_STATUS', status: 204, url })
  })

  it('a server silent for stallTimeoutMs: ERR_CAS_FETCH_TIMEOUT saying how long it waited', async () => {
    const url = await serve((_req, res) => {
      res.writeHead(200, { 'content-length': BODY.length })
      res.write(BODY.subarray(0, 1000)) // then nothing
    })
    // Under load the headers may already be late: a stall before or after them is the same failure.
    const err = await fetchTarball(url, { stallTimeoutMs: 50 }).then(readAll).catch((e: unknown) => e as Error)
    expect(err).toMatchObject({ code: 'ERR_CAS_FETCH_TIMEOUT', url })
    expect((err as Error).message).toContain('no data for 50 ms')
  })

  it('a request fetch refuses to send (a bad header name): ERR_CAS_FETCH_NETWORK with fetch\'s own reason', async () => {
    const url = await serve((_req, res) => { res.end(BODY) })
    const err = await fetchTarball(url, { headers: { 'bad header': 'x' } }).catch((e: unknown) => e as Error)
    expect(err).toMatchObject({ code: 'ERR_CAS_FETCH_NETWORK', url })
    expect((err as Error).message).toContain(`${url} failed: Headers.append: "bad header" is an invalid header name.`)
  })

  it('a consumer that stops early (a bad tarball) drops the connection instead of draining the download', async () => {
    const closed = signal()
    let sent = 0
    const big = Buffer.alloc(64 * 1024 * 1024, 1)
    const url = await serve((_req, res) => {
      res.on('close', () => { closed.signal() })
      res.writeHead(200, { 'content-length': big.length })
      const pump = (): void => {
        while (sent < big.length) {
          const piece = big.subarray(sent, sent + 64 * 1024)
          sent += piece.length
          if (!res.write(piece)) {
            res.once('drain', pump)
            return
          }
        }
        res.end()
      }
      pump()
    })
    const stream = (await fetchTarball(url))[Symbol.asyncIterator]()
    expect((await stream.next()).done).toBe(false)
    await stream.return?.() // the consumer gives up after the first chunk (what for-await's break does)
    await closed.signalled // without a cancel, the server would wait on a full socket forever
    expect(sent).toBeLessThan(big.length)
  })

  it('a consumer busy for longer than stallTimeoutMs does not fail the download: the stall clock is the network\'s', async () => {
    const url = await serve((_req, res) => {
      res.writeHead(200, { 'content-length': BODY.length })
      res.write(BODY.subarray(0, 1024))
      // The rest once the client asks for more (the first chunk is consumed): never a silence of the server's.
      setImmediate(() => res.end(BODY.subarray(1024)))
    })
    const chunks: Uint8Array[] = []
    let first = true
    for await (const chunk of await fetchTarball(url, { stallTimeoutMs: 300 })) {
      chunks.push(chunk)
      if (first) {
        first = false
        // Busy with the first chunk for three stall periods (a slow disk): a timer of an earlier read must not
        // fire. (The stall period is long enough for a loaded machine to send the headers in time.)
        await new Promise(resolve => setTimeout(resolve, 900))
      }
    }
    expect(Buffer.concat(chunks).equals(BODY)).toBe(true)
  })
})
