import path from 'node:path'
import { describe, expect, it } from 'vitest'
import type { FileInfo } from '../../lib/index.js'
import { packageFiles } from '../../lib/import/packageFiles.js'

const DIGEST = 'ab'.repeat(64)
const root = path.resolve('/store/v11')

function filesWith (info: unknown): Map<string, FileInfo> {
  return new Map([['a.js', info as FileInfo]])
}

describe('packageFiles', () => {
  it('maps each file to its content path, `-exec` when any execute bit is set', () => {
    const list = packageFiles(root, new Map([
      ['a.js', { digest: DIGEST, mode: 0o644, size: 3 }],
      ['bin/cli.js', { digest: DIGEST, mode: 0o744, size: 3 }],
    ]))
    const src = path.join(root, 'files', 'ab', 'ab'.repeat(63))
    expect(list.map(f => [f.name, f.src])).toEqual([['a.js', src], ['bin/cli.js', src + '-exec']])
  })

  it('accepts an empty file and a mode of 0 (non-negative integers)', () => {
    expect(packageFiles(root, filesWith({ digest: DIGEST, mode: 0, size: 0 }))).toHaveLength(1)
  })

  it('refuses an entry without info as a bad digest, before it reaches a path', () => {
    expect(() => packageFiles(root, filesWith(null))).toThrow(expect.objectContaining({ code: 'ERR_CAS_BAD_DIGEST' }))
  })

  it.each([
    ['a negative size', { size: -1, mode: 0o644 }],
    ['a fractional size', { size: 1.5, mode: 0o644 }],
    ['a size past 2^53', { size: 2 ** 53, mode: 0o644 }],
    ['a missing size', { mode: 0o644 }],
    ['a negative mode', { size: 1, mode: -1 }],
    ['a fractional mode', { size: 1, mode: 1.5 }],
    ['a missing mode', { size: 1 }],
  ])('refuses %s with ERR_CAS_INVALID_ARGUMENT', (_, fields) => {
    expect(() => packageFiles(root, filesWith({ digest: DIGEST, ...fields })))
      .toThrow(expect.objectContaining({ code: 'ERR_CAS_INVALID_ARGUMENT' }))
  })
})
