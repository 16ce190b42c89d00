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

  it('isDigestHex gives the plain rule\'s answer (/^[0-9a-f]{128}$/) on every character next to a hex digit', () => {
    const rule = (v: string): boolean => /^[0-9a-f]{128}$/.test(v)
    // Each character just outside (and at) the edges of the two digit ranges, non-ASCII ones whose low byte is a
    // digit, and each in the first, a middle and the last place; then lengths 0, 127, 128, 129.
    const odd = ['/', '0', '9', ':', '`', 'a', 'f', 'g', 'A', 'F', '\u0130', '\u0161', '\u0230', '\u0660', '\uff10', '\0', ' ']
    const cases: string[] = []
    for (const c of odd) for (const at of [0, 64, 127]) cases.push(hex.slice(0, at) + c + hex.slice(at + 1))
    cases.push('', hex.slice(0, 127), hex + '0', hex.slice(0, 127) + '\u{1F600}'.slice(0, 1))
    for (let i = 0; i < 200; i++) cases.push(crypto.randomBytes(64).toString('hex'))
    for (const value of cases) expect(isDigestHex(value), JSON.stringify(value)).toBe(rule(value))
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
