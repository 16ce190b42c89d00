import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { sendBody } from './sendBody.js'

/** One request the package server answered (or began to). */
export interface PackageRequest {
  path: string
  status: number
  /** Body bytes written so far. */
  sent: number
  completed: boolean
}

export interface PackageServer {
  /** `http://127.0.0.1:<port>` */
  origin: string
  /** The URL of a tarball served under `name`. */
  url: (name: string) => string
  requests: PackageRequest[]
  /** How many requests asked for `name`. */
  hits: (name: string) => number
  /**
   * Holds the answers to requests for `name` that start from now on, after `afterBytes` body bytes (0: before
   * the headers), until `release(name)`. `reached(name)` resolves once an answer is held there. A new hold
   * replaces the previous one for new requests; answers held by the old one stay held until `close()`.
   */
  hold: (name: string, afterBytes: number) => void
  release: (name: string) => void
  reached: (name: string) => Promise<void>
  close: () => Promise<void>
}

/**
 * A local HTTP server on 127.0.0.1 serving named tarballs (`/<name>`), in `chunk`-byte pieces with `delayMs`
 * between them (a slow registry), 404 for unknown names. It records every request, so tests count downloads per
 * tarball, and can hold an answer mid-body so a test can act (kill the downloader) at a known point.
 */
export async function startPackageServer (
  tarballs: Map<string, Buffer>, { chunk = 16 * 1024, delayMs = 0 } = {},
): Promise<PackageServer> {
  const requests: PackageRequest[] = []
  interface Hold {
    afterBytes: number
    released: Promise<void>
    release: () => void
    reached: Promise<void>
    reach: () => void
  }
  const holds = new Map<string, Hold>()
  const all: Array<{ release: () => void }> = []
  const serve = async (req: http.IncomingMessage, res: http.ServerResponse): Promise<void> => {
    const name = decodeURIComponent((req.url ?? '/').slice(1))
    const body = tarballs.get(name)
    const record: PackageRequest = { path: name, status: body === undefined ? 404 : 200, sent: 0, completed: false }
    requests.push(record)
    res.on('close', () => { record.completed = res.writableFinished })
    if (body === undefined) {
      res.writeHead(404).end('not found')
      return
    }
    const hold = holds.get(name) // a hold applies to the requests that start while it is set
    const held = async (offset: number): Promise<void> => {
      if (hold !== undefined && offset >= hold.afterBytes) {
        hold.reach()
        await hold.released
      }
    }
    await held(0) // a hold at 0 bytes holds the answer before its headers
    if (res.destroyed) return
    res.writeHead(200, { 'content-length': body.length, 'content-type': 'application/octet-stream' })
    const before = async (offset: number): Promise<void> => { if (offset > 0) await held(offset) }
    await sendBody(res, body, { chunk, delayMs, record, before })
  }
  const server = http.createServer((req, res) => {
    // A failure while serving ends this response (the client sees a reset), never an unhandled rejection.
    serve(req, res).catch(err => res.destroy(err as Error))
  })
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  return {
    origin,
    url: name => `${origin}/${encodeURIComponent(name)}`,
    requests,
    hits: name => requests.filter(r => r.path === name).length,
    hold: (name, afterBytes) => {
      let release!: () => void
      let reach!: () => void
      const released = new Promise<void>(resolve => { release = resolve })
      const reached = new Promise<void>(resolve => { reach = resolve })
      const entry = { afterBytes, released, release, reached, reach }
      all.push(entry)
      holds.set(name, entry)
    },
    release: name => {
      holds.get(name)?.release()
      holds.delete(name)
    },
    reached: async name => { await holds.get(name)?.reached },
    close: async () => {
      for (const entry of all) entry.release()
      server.closeAllConnections()
      await new Promise(resolve => server.close(resolve))
    },
  }
}
