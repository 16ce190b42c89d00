import crypto from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { assertDigestHex, hexToSri, isDigestHex, sriToHex, toDigestHex } from '../../lib/index.js'

const hex = crypto.createHash('sha512').update('hello').digest('hex')
const sri = 'sha512-' + crypto.createHash('sha512').update('hello').digest('base64')

describe('digest helpers', () => {
  it('converts hex to SRI and back', () => {
    expect(hexToSri(hex)).toBe(sri)
    expect(sriToHex(sri)).toBe(hex)
    expect(toDigestHex(sri)).toBe(hex)
    expect(toDigestHex(hex)).toBe(hex)
  })

  it('picks the sha512 entry of a multi-hash SRI string', () => {
    const sha1 = 'sha1-' + crypto.createHash('sha1').update('hello').digest('base64')
    expect(sriToHex(`${sha1} ${sri}`)).toBe(hex)
  })

  it.each([
    ['too short', hex.slice(0, 64)],
    ['uppercase', hex.toUpperCase()],
    ['a path', '../../../etc/passwd'],
    ['hex plus a slash', hex.slice(0, 127) + '/'],
    ['empty', ''],
    ['not a string', 42],
  ])('rejects a malformed hex digest (%s) with ERR_CAS_BAD_DIGEST', (_what, value) => {
    expect(isDigestHex(value)).toBe(false)
    expect(() => assertDigestHex(value)).toThrow(expect.objectContaining({ code: 'ERR_CAS_BAD_DIGEST' }))
    expect(() => hexToSri(value as string)).toThrow(expect.objectContaining({ code: 'ERR_CAS_BAD_DIGEST' }))
  })

  it.each([
    ['sha1 only', 'sha1-' + crypto.createHash('sha1').update('x').digest('base64')],
    ['truncated sha512', 'sha512-' + crypto.createHash('sha256').update('x').digest('base64')],
    ['garbage', 'sha512-!!!'],
    ['not SRI', 'hello'],
  ])('rejects a bad SRI string (%s)', (_what, value) => {
    expect(() => sriToHex(value)).toThrow(expect.objectContaining({ code: 'ERR_CAS_BAD_DIGEST' }))
    expect(() => toDigestHex(value)).toThrow(expect.objectContaining({ code: 'ERR_CAS_BAD_DIGEST' }))
  })
})
