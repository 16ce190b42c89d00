// Range answers as a server (or something in front of it) may send them, well-formed or not.
import { expect, it } from 'vitest'
import { mergeRanges, rangeHeader, receivedParts, sliceOf } from '../../lib/remote/byteRanges.js'

const object = Buffer.from('abcdefghijklmnopqrstuvwxyz0123456789')

function multipart (boundary: string, parts: Array<[number, number]>, total = object.length): Buffer {
  const pieces: Buffer[] = []
  for (const [start, end] of parts) {
    pieces.push(Buffer.from(`\r\n--${boundary}\r\nContent-Type: application/octet-stream\r\n` +
      `Content-Range: bytes ${start}-${end - 1}/${total}\r\n\r\n`), object.subarray(start, end))
  }
  pieces.push(Buffer.from(`\r\n--${boundary}--\r\n`))
  return Buffer.concat(pieces)
}

it('merges touching and nearby ranges, and writes the Range header', () => {
  const wanted = [{ start: 300, end: 310 }, { start: 0, end: 10 }, { start: 10, end: 20 }, { start: 1000, end: 1001 }]
  expect(mergeRanges(wanted))
    .toEqual([{ start: 0, end: 20 }, { start: 300, end: 310 }, { start: 1000, end: 1001 }])
  expect(rangeHeader([{ start: 0, end: 20 }, { start: 300, end: 310 }])).toBe('bytes=0-19,300-309')
})

it('reads a whole answer (a server that ignores Range), a single range and a multipart answer', () => {
  expect(sliceOf(receivedParts(200, null, null, object), 5, 8)?.toString()).toBe('fgh')
  expect(sliceOf(receivedParts(206, 'application/octet-stream', 'bytes 3-5/36', object.subarray(3, 6)), 3, 6)?.toString()).toBe('def')
  const parts = receivedParts(206, 'multipart/byteranges; boundary=00000000000000000001', null,
    multipart('00000000000000000001', [[0, 3], [5, 8], [30, 36]]))
  expect(parts.map(p => [p.start, p.data.toString()])).toEqual([[0, 'abc'], [5, 'fgh'], [30, '456789']])
  expect(sliceOf(parts, 6, 8)?.toString()).toBe('gh')
  expect(sliceOf(parts, 2, 6)).toBeUndefined() // spans a gap: not sent
})

it('refuses answers that are not what they claim', () => {
  const boundary = 'multipart/byteranges; boundary=B'
  // Cut short: the last part announces more bytes than it carries.
  expect(() => receivedParts(206, boundary, null, multipart('B', [[0, 3], [5, 8]]).subarray(0, 150))).toThrow(/cut short/)
  // No closing delimiter.
  const open = multipart('B', [[0, 3]])
  expect(() => receivedParts(206, boundary, null, open.subarray(0, open.length - 8))).toThrow()
  // A part without a Content-Range, and a single-range answer without one.
  expect(() => receivedParts(206, boundary, null, Buffer.from('\r\n--B\r\nContent-Type: x\r\n\r\nabc\r\n--B--\r\n'))).toThrow(/Content-Range/)
  expect(() => receivedParts(206, 'application/octet-stream', null, object)).toThrow(/Content-Range/)
})
