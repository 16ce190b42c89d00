import type http from 'node:http'

/**
 * Writes `body` from `start` in `chunk`-byte pieces, one per event-loop turn plus `delayMs`, waiting for 'drain'
 * (so a slow client really slows the server), and counts what was sent in `record.sent`. Before each piece it
 * awaits `before(offset)`, where a test can hold the download mid-body. Stops quietly once the client is gone.
 */
export async function sendBody (
  res: http.ServerResponse, body: Buffer, options: {
    start?: number
    chunk: number
    delayMs: number
    record: { sent: number }
    before?: (offset: number) => Promise<void> | undefined
  },
): Promise<void> {
  const { chunk, delayMs, record } = options
  for (let offset = options.start ?? 0; offset < body.length; offset += chunk) {
    await options.before?.(offset)
    if (res.destroyed) return
    const piece = body.subarray(offset, Math.min(offset + chunk, body.length))
    if (!res.write(piece)) await new Promise(resolve => res.once('drain', resolve))
    record.sent += piece.length
    await new Promise(resolve => delayMs > 0 ? setTimeout(resolve, delayMs) : setImmediate(resolve))
  }
  res.end()
}
