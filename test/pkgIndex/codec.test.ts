// The index reader's rule for each file entry (`normalizeFiles`): a row breaking it is unreadable, with a message
// that says which entry and what is wrong. Both decoded shapes: a Map (msgpackr, v11) and a plain object (JSON, v10).
import crypto from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { normalizeFiles } from '../../lib/pkgIndex/codec.js'

const digest = crypto.createHash('sha512').update('x').digest('hex')
const good = { digest, mode: 0o644, size: 1, checkedAt: 5 }

describe('normalizeFiles', () => {
  it('keeps digest, mode, size and checkedAt of a good entry, from a Map and from an object', () => {
    for (const files of [new Map([['a.js', good]]), { 'a.js': good }]) {
      expect([...normalizeFiles(files, 'digest')]).toEqual([['a.js', good]])
    }
    const { checkedAt: _, ...unchecked } = good
    expect(normalizeFiles({ 'a.js': unchecked }, 'digest').get('a.js')).toEqual(unchecked)
  })

  it('refuses a files list that is not a map (an array would be read as names "0", "1"…)', () => {
    for (const files of [[good], null, 'a.js', 5]) expect(() => normalizeFiles(files, 'digest')).toThrow(/it has no files list/)
  })

  it.each([
    ['null', null],
    ['a number', 5],
    ['a string', digest],
  ])('refuses an entry that is %s: "not an object"', (_what, entry) => {
    for (const files of [new Map([['a.js', entry]]), { 'a.js': entry }]) {
      expect(() => normalizeFiles(files, 'digest')).toThrow(/its entry for "a\.js" is not an object/)
    }
  })

  it.each([
    ['a string', 'yesterday'],
    ['null', null],
    ['NaN', Number.NaN],
  ])('refuses a checkedAt that is %s instead of dropping it', (_what, checkedAt) => {
    expect(() => normalizeFiles({ 'a.js': { ...good, checkedAt } }, 'digest')).toThrow(/checkedAt that is not a time/)
  })

  it('refuses a digest that is not 128 lowercase hex, and one the v10 converter cannot read', () => {
    expect(() => normalizeFiles({ 'a.js': { ...good, digest: digest.toUpperCase() } }, 'digest')).toThrow(/no sha512 digest/)
    const toHex = (): string => { throw new Error('not SRI') }
    expect(() => normalizeFiles({ 'a.js': { ...good, integrity: 'sha1-x' } }, 'integrity', toHex)).toThrow(/no sha512 digest/)
  })
})
