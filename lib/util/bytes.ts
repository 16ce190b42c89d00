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

/**
 * `body`, cut off as soon as it has yielded more than `max` bytes: the chunk that goes past is never passed on;
 * `tooMuch()` is thrown instead, and `body` is closed (a download's connection is dropped, not drained). Why: a
 * server's answer is outside input, and a body without end would otherwise be bounded only by memory or the disk.
 */
export async function * upTo<T extends Uint8Array> (
  body: AsyncIterable<T>, max: number, tooMuch: () => Error,
): AsyncGenerator<T> {
  let seen = 0
  for await (const chunk of body) {
    seen += chunk.length
    if (seen > max) throw tooMuch()
    yield chunk
  }
}

/** Every chunk of `body`, at most `max` bytes in all (see {@link upTo}), in one Buffer. */
export async function collectUpTo (
  body: AsyncIterable<Uint8Array>, max: number, tooMuch: () => Error,
): Promise<Buffer> {
  const chunks: Uint8Array[] = []
  for await (const chunk of upTo(body, max, tooMuch)) chunks.push(chunk)
  return Buffer.concat(chunks)
}
