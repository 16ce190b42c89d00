/** A byte range of an object, `end` exclusive. */
export interface ByteRange {
  start: number
  end: number
}

/** Ranges in one request at most, so the `Range` header stays far below servers' header limits (nginx: 8 KiB). */
export const MAX_RANGES_PER_REQUEST = 200
/**
 * Two wanted ranges closer than this are fetched as one: a multipart answer spends about this much on each
 * part's headers, so fetching the gap costs no more than a separate part would.
 */
const MERGE_GAP = 128

/**
 * Bytes an answer to a request for `parts` byte ranges may hold beyond the object's own size: each part of a
 * multipart answer brings a boundary and headers (~100 bytes with nginx), and the answer a closing delimiter.
 * Generous on purpose: it only has to bound memory, the parts are checked byte for byte anyway.
 */
export function answerAllowance (parts: number): number {
  return 1024 * (parts + 1)
}

/** Sorts and merges ranges (touching, overlapping, or closer than the per-part overhead). */
export function mergeRanges (ranges: ByteRange[]): ByteRange[] {
  const sorted = [...ranges].sort((a, b) => a.start - b.start)
  const out: ByteRange[] = []
  for (const r of sorted) {
    const last = out.at(-1)
    if (last !== undefined && r.start <= last.end + MERGE_GAP) last.end = Math.max(last.end, r.end)
    else out.push({ ...r })
  }
  return out
}

/** The `Range` header value for ranges (`bytes=0-99,200-299`). */
export function rangeHeader (ranges: ByteRange[]): string {
  return 'bytes=' + ranges.map(r => `${r.start}-${r.end - 1}`).join(',')
}

/** One piece of an object a server sent: its bytes and where they start. */
export interface ReceivedPart {
  start: number
  data: Buffer
}

/**
 * The parts of an answer to a range request: a 200 is the whole object (a server may ignore `Range`), a 206 is
 * one range (`Content-Range`) or several (`multipart/byteranges`, each part with its own `Content-Range`).
 * Throws a plain Error when the answer is not what it claims (the caller treats it as a bad object).
 */
export function receivedParts (
  status: number, contentType: string | null, contentRange: string | null, body: Buffer,
): ReceivedPart[] {
  if (status === 200) return [{ start: 0, data: body }]
  const boundary = /^multipart\/byteranges;\s*boundary="?([^";]+)"?/i.exec(contentType ?? '')?.[1]
  if (boundary === undefined) {
    const start = parseContentRange(contentRange)
    return [{ start: start.start, data: body.subarray(0, start.end - start.start) }]
  }
  const parts: ReceivedPart[] = []
  const delimiter = Buffer.from(`--${boundary}`)
  let at = body.indexOf(delimiter)
  while (at >= 0) {
    at += delimiter.length
    if (body[at] === 0x2d && body[at + 1] === 0x2d) return parts // the closing delimiter
    const headersEnd = body.indexOf('\r\n\r\n', at)
    if (headersEnd < 0) throw new Error('a multipart answer is cut short')
    const headers = body.subarray(at, headersEnd).toString('latin1')
    const range = parseContentRange(/content-range:\s*([^\r\n]+)/i.exec(headers)?.[1] ?? null)
    const dataStart = headersEnd + 4
    const data = body.subarray(dataStart, dataStart + (range.end - range.start))
    if (data.length !== range.end - range.start) throw new Error('a multipart answer is cut short')
    parts.push({ start: range.start, data })
    at = body.indexOf(delimiter, dataStart + data.length)
  }
  throw new Error('a multipart answer has no closing delimiter')
}

function parseContentRange (value: string | null): ByteRange {
  const match = /^bytes (\d+)-(\d+)\/(\d+|\*)$/.exec((value ?? '').trim())
  if (match === null) throw new Error(`a range answer without a usable Content-Range (${JSON.stringify(value)})`)
  return { start: Number(match[1]), end: Number(match[2]) + 1 }
}

/** The bytes [start, end) out of received parts, or undefined when no part covers them. */
export function sliceOf (parts: ReceivedPart[], start: number, end: number): Buffer | undefined {
  for (const part of parts) {
    if (part.start <= start && part.start + part.data.length >= end) {
      return part.data.subarray(start - part.start, end - part.start)
    }
  }
  return undefined
}
