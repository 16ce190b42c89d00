// The tarball source gathers a small download into one Buffer (read in memory: every entry judged before a file
// is written) and streams a large one, cancelling the download when the add fails.
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { createStoreContext } from '../../lib/context.js'
import { tarballSource, WHOLE_TARBALL_BYTES, wholeIfSmall } from '../../lib/ensure/packageSource.js'
import { contentOf } from '../helpers/content.js'
import { makeTarball } from '../helpers/tarball.js'
import { listFiles, tempDir } from '../helpers/tmp.js'

/** A stream of `data` in chunks of `size`, telling `seen` how far it was read and whether it was stopped. */
function source (data: Buffer, size: number, seen = { read: 0, stopped: false }): AsyncIterable<unknown> {
  return (async function * () {
    try {
      for (let at = 0; at < data.length; at += size) {
        seen.read = Math.min(data.length, at + size)
        yield data.subarray(at, at + size)
      }
    } finally {
      seen.stopped = seen.read < data.length
    }
  })()
}

async function bytesOf (stream: AsyncIterable<unknown>): Promise<Buffer> {
  const chunks: Buffer[] = []
  for await (const chunk of stream) chunks.push(chunk as Buffer)
  return Buffer.concat(chunks)
}

describe('wholeIfSmall', () => {
  it('gathers a stream that ends within WHOLE_TARBALL_BYTES into one Buffer', async () => {
    const data = contentOf('whole', 1, WHOLE_TARBALL_BYTES)
    const whole = await wholeIfSmall(source(data, 100_000))
    expect(Buffer.isBuffer(whole)).toBe(true)
    expect((whole as Buffer).equals(data)).toBe(true)
  })

  it('gives a longer one back as a stream of the same bytes', async () => {
    const data = contentOf('whole', 2, 2 * WHOLE_TARBALL_BYTES + 1)
    const seen = { read: 0, stopped: false }
    const streamed = await wholeIfSmall(source(data, 100_000, seen))
    expect(Buffer.isBuffer(streamed)).toBe(false)
    expect(seen.read).toBeLessThan(data.length) // it stopped reading once past the bound
    expect((await bytesOf(streamed as AsyncIterable<unknown>)).equals(data)).toBe(true)
    expect(seen.stopped).toBe(false)
  })

  it('a reader that stops early stops the source', async () => {
    const data = contentOf('whole', 3, 3 * WHOLE_TARBALL_BYTES)
    const seen = { read: 0, stopped: false }
    const streamed = await wholeIfSmall(source(data, 100_000, seen)) as AsyncIterable<unknown>
    for await (const chunk of streamed) if (chunk !== undefined) break
    expect(seen.stopped).toBe(true)
  })

  it('leaves chunks that are not bytes for the add to refuse', async () => {
    const odd = await wholeIfSmall((async function * () { yield Buffer.from('a'); yield 42 })())
    expect(Buffer.isBuffer(odd)).toBe(false)
    const items: unknown[] = []
    for await (const item of odd as AsyncIterable<unknown>) items.push(item)
    expect(items).toEqual([Buffer.from('a'), 42])
  })
})

describe('tarballSource', () => {
  it('a small download whose integrity does not match adds nothing to the store (read whole)', async () => {
    const ctx = createStoreContext({ root: path.join(tempDir(), 'v11'), fsync: false })
    const tarball = makeTarball([{ path: 'package/a.js', body: 'a' }, { path: 'package/b.js', body: 'b' }])
    const from = tarballSource(async () => source(tarball, 10), { integrity: `sha512-${'A'.repeat(86)}==` })
    await expect(from.addFiles(ctx)).rejects.toMatchObject({ code: 'ERR_CAS_INTEGRITY' })
    expect(listFiles(path.join(ctx.root, 'files'))).toEqual([])
    ctx.lock.close()
  })
})
