import type http from 'node:http'

/**
 * Answers with `head`, then junk without end (chunked: no Content-Length), until the client hangs up or `cap` bytes
 * in all are out, honouring backpressure. `count` is told every piece written, so a test can prove how little of it
 * a bounded reader took.
 */
export function sendEndless (
  res: http.ServerResponse, head: Buffer, cap: number, count: (bytes: number) => void, piece = 64 * 1024,
): void {
  let sent = head.length
  const junk = Buffer.alloc(piece, 0x61)
  res.writeHead(200)
  count(head.length)
  res.write(head)
  const pump = (): void => {
    while (!res.destroyed && sent < cap) {
      sent += junk.length
      count(junk.length)
      if (!res.write(junk)) {
        res.once('drain', pump)
        return
      }
    }
    res.end()
  }
  pump()
}
