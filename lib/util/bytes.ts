/**
 * Content given as bytes or a stream, with bytes as a Buffer sharing their memory (no copy). The public API takes
 * any `Uint8Array` (a Buffer is one) so that its types need nothing from `@types/node`; inside, Buffer is wanted.
 */
export function asBufferOrStream (content: Uint8Array | AsyncIterable<unknown>): Buffer | AsyncIterable<unknown> {
  if (content instanceof Uint8Array && !Buffer.isBuffer(content)) {
    return Buffer.from(content.buffer, content.byteOffset, content.byteLength)
  }
  return content
}
