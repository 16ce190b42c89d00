// The store threads' half of the verifier: one byte per file, "good" only for exactly the right bytes.
import fs from 'node:fs'
import path from 'node:path'
import { expect, it } from 'vitest'
import { hashFiles, HASHED_GOOD } from '../../lib/verify/hashInThread.js'
import { contentOf, sha512Hex } from '../helpers/content.js'
import { tempDir } from '../helpers/tmp.js'

it('answers good only for a regular file of the right size whose bytes hash to the digest', () => {
  const dir = tempDir()
  const small = contentOf('hash', 1, 700)
  const large = contentOf('hash', 2, 2_500_000 + 3) // read in several chunks of the reused buffer
  const at = (name: string): string => path.join(dir, name)
  fs.writeFileSync(at('small'), small)
  fs.writeFileSync(at('large'), large)
  fs.writeFileSync(at('wrong'), Buffer.alloc(small.length, 1)) // same size, other bytes
  fs.writeFileSync(at('longer'), Buffer.concat([small, Buffer.from('x')]))
  fs.writeFileSync(at('shorter'), small.subarray(1))
  fs.mkdirSync(at('dir'))
  const cases: Array<[string, Buffer, number]> = [
    ['small', small, HASHED_GOOD],
    ['large', large, HASHED_GOOD],
    ['wrong', small, 0],
    ['longer', small, 0],
    ['shorter', small, 0],
    ['dir', small, 0],
    ['missing', small, 0],
  ]
  const answers = hashFiles({
    paths: cases.map(([name]) => at(name)),
    digests: cases.map(([, bytes]) => sha512Hex(bytes)),
    sizes: cases.map(([, bytes]) => bytes.length),
  })
  expect(Object.fromEntries(cases.map(([name], i) => [name, answers[i]]))).toEqual(
    Object.fromEntries(cases.map(([name, , good]) => [name, good])))
})

it('a longer file whose first bytes are right is not good, even when told a wrong (smaller) size', () => {
  const dir = tempDir()
  const small = contentOf('hash', 3, 300)
  const file = path.join(dir, 'grown')
  fs.writeFileSync(file, Buffer.concat([small, small]))
  expect([...hashFiles({ paths: [file], digests: [sha512Hex(small)], sizes: [small.length] })]).toEqual([0])
})
