// The method ladder of an import: which method a file is tried with, what proves a method impossible on a
// (store, device) pair, and what is remembered for the next import. Errors are built with their errno code: a
// single file system cannot produce EXDEV, and the ladder only reads the code.
import { beforeEach, describe, expect, it } from 'vitest'
import { ImportMethodError } from '../../lib/index.js'
import { _forgetMethods, MethodLadder } from '../../lib/import/importMethod.js'

const STORE = '/store'
const DEVICE = 7
const fail = (code: string): NodeJS.ErrnoException => Object.assign(new Error(code), { code })

beforeEach(() => { _forgetMethods() })

describe('MethodLadder', () => {
  it('auto tries clone, then hard link, then copy, stepping down on capability errors only', () => {
    const ladder = new MethodLadder(STORE, DEVICE, 'auto', false)
    expect(ladder.current).toBe('clone')
    expect(ladder.stepDown('clone', fail('ENOTSUP'))).toBe(true)
    expect(ladder.current).toBe('hardlink')
    expect(ladder.stepDown('hardlink', fail('EXDEV'))).toBe(true)
    expect(ladder.current).toBe('copy')
  })

  it.each(['ENOENT', 'EACCES', 'ENOSPC', 'EEXIST', 'EMLINK', 'EMFILE'])('%s is an error of one file: the method stays', (code) => {
    const ladder = new MethodLadder(STORE, DEVICE, 'hardlink', false)
    expect(ladder.stepDown('hardlink', fail(code))).toBe(false)
    expect(ladder.current).toBe('hardlink')
    expect(new MethodLadder(STORE, DEVICE, 'hardlink', false).current).toBe('hardlink')
  })

  it('a failed copy is always the file\'s own error, even with a capability code: copy is never given up', () => {
    const ladder = new MethodLadder(STORE, DEVICE, 'copy', false)
    expect(ladder.stepDown('copy', fail('EPERM'))).toBe(false)
    expect(ladder.current).toBe('copy')
    expect(new MethodLadder(STORE, DEVICE, 'auto', false).current).toBe('clone')
  })

  it('what failed is remembered per store and device: the next import starts below it, other pairs start over', () => {
    new MethodLadder(STORE, DEVICE, 'auto', false).stepDown('clone', fail('ENOTSUP'))
    expect(new MethodLadder(STORE, DEVICE, 'auto', false).current).toBe('hardlink')
    expect(new MethodLadder(STORE, DEVICE, 'clone-or-copy', false).current).toBe('copy')
    expect(new MethodLadder(STORE, DEVICE + 1, 'auto', false).current).toBe('clone')
    expect(new MethodLadder('/other-store', DEVICE, 'auto', false).current).toBe('clone')
    // A fresh process (forgotten memory) probes again.
    _forgetMethods()
    expect(new MethodLadder(STORE, DEVICE, 'auto', false).current).toBe('clone')
  })

  it('an explicit method has no step below: its failure is ERR_CAS_IMPORT_METHOD, then and for later imports', () => {
    const ladder = new MethodLadder(STORE, DEVICE, 'hardlink', false)
    expect(ladder.current).toBe('hardlink')
    const cause = fail('EXDEV')
    let err: unknown
    try { ladder.stepDown('hardlink', cause) } catch (e) { err = e }
    expect(err).toBeInstanceOf(ImportMethodError)
    expect(err).toMatchObject({ code: 'ERR_CAS_IMPORT_METHOD', method: 'hardlink', reason: 'EXDEV', cause })
    expect(() => new MethodLadder(STORE, DEVICE, 'hardlink', false))
      .toThrow(expect.objectContaining({ method: 'hardlink', reason: 'EXDEV' }))
    // The ladders with a way down are not affected.
    expect(new MethodLadder(STORE, DEVICE, 'auto', false).current).toBe('clone')
  })

  it('a package with build scripts is never hard-linked, even when hardlink is asked for', () => {
    expect(new MethodLadder(STORE, DEVICE, 'hardlink', false).current).toBe('hardlink')
    const asked = new MethodLadder(STORE, DEVICE, 'hardlink', true)
    expect(asked.current).toBe('clone')
    expect(asked.stepDown('clone', fail('ENOTSUP'))).toBe(true)
    expect(asked.current).toBe('copy')
    _forgetMethods()
    const auto = new MethodLadder(STORE, DEVICE, 'auto', true)
    expect(auto.stepDown('clone', fail('ENOTSUP'))).toBe(true)
    expect(auto.current).toBe('copy')
  })
})

describe('MethodLadder.peek', () => {
  it('says which method an import would use now, without trying one', () => {
    expect(MethodLadder.peek(STORE, DEVICE, 'auto', false)).toBe('clone')
    expect(MethodLadder.peek(STORE, DEVICE, 'copy', false)).toBe('copy')
    expect(MethodLadder.peek(STORE, DEVICE, 'hardlink', true)).toBe('clone')
    new MethodLadder(STORE, DEVICE, 'auto', false).stepDown('clone', fail('ENOTSUP'))
    expect(MethodLadder.peek(STORE, DEVICE, 'auto', false)).toBe('hardlink')
    expect(MethodLadder.peek(STORE, DEVICE, 'clone-or-copy', false)).toBe('copy')
  })

  it('names an explicit method known to fail here instead of throwing', () => {
    new MethodLadder(STORE, DEVICE, 'auto', false).stepDown('clone', fail('ENOTSUP'))
    expect(() => new MethodLadder(STORE, DEVICE, 'clone', false)).toThrow(ImportMethodError)
    expect(MethodLadder.peek(STORE, DEVICE, 'clone', false)).toBe('clone')
    new MethodLadder(STORE, DEVICE, 'auto', false).stepDown('hardlink', fail('EXDEV'))
    expect(MethodLadder.peek(STORE, DEVICE, 'hardlink', false)).toBe('hardlink')
  })
})
