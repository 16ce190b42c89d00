import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { sendBody } from './sendBody.js'

/** What one request asked for and got. */
export interface Served {
  range: string | undefined
  status: number
  /** Bytes of body written before the response ended (or the connection died). */
  sent: number
  completed: boolean
}

export interface TestServer {
  url: string
  served: Served[]
  /** Stop sending after this many body bytes of a full (non-range) answer, until `resume()` (undefined: no pause). */
  pauseAfter: number | undefined
  resume: () => void
  honourRange: boolean
  close: () => Promise<void>
}

/**
 * A local HTTP server on 127.0.0.1 for download tests: serves `body` in `chunk`-byte pieces, one per event-loop
 * turn plus `delayMs`, answers `Range: bytes=N-` with 206 when `honourRange`, can pause mid-body, and records
 * every request it served. `status` other than 200 answers that status with a short body.
 */
export async function startServer (
  body: Buffer, { chunk = 64 * 1024, delayMs = 0, status = 200 } = {},
): Promise<TestServer> {
  const served: Served[] = []
  let release: (() => void) | undefined
  let paused: Promise<void> | undefined
  const state: TestServer = {
    url: '',
    served,
    pauseAfter: undefined,
    honourRange: true,
    resume: () => { release?.(); paused = undefined },
    close: async () => {},
  }
  const server = http.createServer((req, res) => {
    // A failure while serving ends this response (the client sees a reset), never an unhandled rejection.
    serve(req, res).catch(err => res.destroy(err as Error))
  })
  async function serve (req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const range = req.headers.range
    const record: Served = { range, status, sent: 0, completed: false }
    served.push(record)
    res.on('close', () => { record.completed = res.writableFinished })
    if (status !== 200) {
      res.writeHead(status).end('no such file')
      return
    }
    let start = 0
    const match = range === undefined ? null : /^bytes=(\d+)-$/.exec(range)
    if (match !== null && state.honourRange) {
      start = Number(match[1])
      if (start >= body.length) {
        record.status = 416
        res.writeHead(416, { 'content-range': `bytes */${body.length}` }).end()
        return
      }
      record.status = 206
      res.writeHead(206, { 'content-length': body.length - start, 'content-range': `bytes ${start}-${body.length - 1}/${body.length}` })
    } else {
      res.writeHead(200, { 'content-length': body.length, 'accept-ranges': state.honourRange ? 'bytes' : 'none' })
    }
    const pauseAt = start === 0 ? state.pauseAfter : undefined
    await sendBody(res, body, {
      start,
      chunk,
      delayMs,
      record,
      before: offset => {
        if (pauseAt === undefined || offset < pauseAt) return undefined
        paused ??= new Promise<void>(resolve => { release = resolve })
        return paused
      },
    })
  }
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  state.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/file.bin`
  state.close = async () => {
    state.resume()
    server.closeAllConnections()
    await new Promise(resolve => server.close(resolve))
  }
  return state
}
