import crypto from 'node:crypto'

/** Deterministic bytes for file number `i` of a test corpus: any process can regenerate them from (seed, i, size). */
export function contentOf (seed: string, i: number, size: number): Buffer {
  const out = Buffer.alloc(size)
  let block = crypto.createHash('sha512').update(`${seed}:${i}`).digest()
  for (let offset = 0; offset < size; offset += block.length) {
    block.copy(out, offset)
    block = crypto.createHash('sha512').update(block).digest()
  }
  return out
}

export const sha512Hex = (data: Buffer | string): string => crypto.createHash('sha512').update(data).digest('hex')

/** Sizes for a small mixed corpus: mostly small files, some over the 1 MiB sync limit (streamed paths). */
export function corpusSizes (count: number): number[] {
  return Array.from({ length: count }, (_, i) => i % 25 === 24 ? 1_200_000 + i : 40 + ((i * 7919) % 9000))
}
