// The store threads' half of the verifier: one byte per file, "good" only for exactly the right bytes.
import { execFileSync } from 'node:child_process'
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

it('closes every file it opens, good or not (a thread hashes thousands per task)', () => {
  const dir = tempDir()
  const good = contentOf('fds', 1, 500)
  const large = contentOf('fds', 2, 1024 * 1024 + 10)
  const files = Array.from({ length: 20 }, (_, i) => {
    const file = path.join(dir, `f${i}`)
    fs.writeFileSync(file, i === 0 ? large : i % 2 === 0 ? good : Buffer.alloc(good.length, 1))
    return file
  })
  const open = (): number => fs.readdirSync('/proc/self/fd').length
  const before = open()
  const answers = hashFiles({
    paths: files,
    digests: files.map((_, i) => sha512Hex(i === 0 ? large : good)),
    sizes: files.map((_, i) => (i === 0 ? large : good).length),
  })
  expect([...answers]).toEqual(files.map((_, i) => i % 2 === 0 ? HASHED_GOOD : 0))
  expect(open()).toBe(before)
})

it('a FIFO at the path is not good, even one holding exactly the right bytes', () => {
  const dir = tempDir()
  const bytes = contentOf('fifo', 1, 300)
  const fifo = path.join(dir, 'fifo')
  execFileSync('mkfifo', [fifo])
  // Opened read-write, a FIFO needs no other end: the right bytes wait in it for whoever reads.
  const fd = fs.openSync(fifo, fs.constants.O_RDWR)
  try {
    fs.writeSync(fd, bytes)
    expect([...hashFiles({ paths: [fifo], digests: [sha512Hex(bytes)], sizes: [bytes.length] })]).toEqual([0])
  } finally {
    fs.closeSync(fd)
  }
})
