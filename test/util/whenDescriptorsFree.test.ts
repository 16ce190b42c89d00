// The wait for a free descriptor (EMFILE, ENFILE) behind the store's synchronous listings and opens.
import { expect, it } from 'vitest'
import { whenDescriptorsFree } from '../../lib/util/fs.js'

const exhausted = (code: string): NodeJS.ErrnoException => Object.assign(new Error(`${code}: too many open files`), { code })

it('tries again while the call meets EMFILE or ENFILE, and returns its value once it succeeds', async () => {
  const codes = ['EMFILE', 'ENFILE', 'EMFILE']
  let calls = 0
  const value = await whenDescriptorsFree(() => {
    calls++
    const code = codes.shift()
    if (code !== undefined) throw exhausted(code)
    return 'listed'
  })
  expect({ value, calls }).toEqual({ value: 'listed', calls: 4 })
})

it('any other error is thrown at once, untried again', async () => {
  let calls = 0
  await expect(whenDescriptorsFree(() => {
    calls++
    throw exhausted('EACCES')
  })).rejects.toMatchObject({ code: 'EACCES' })
  expect(calls).toBe(1)
})

it('gives up with the EMFILE it kept meeting once the wait passes its bound (graceful-fs\'s is 60 s), instead of hanging', async () => {
  let calls = 0
  await expect(whenDescriptorsFree(() => {
    calls++
    throw exhausted('EMFILE')
  }, { giveUpAfterMs: 20 })).rejects.toMatchObject({ code: 'EMFILE' })
  expect(calls).toBeGreaterThan(1)
})

it('failedOnce: the caller\'s own try met EMFILE, so the first try here waits first (no second try at once)', async () => {
  let calls = 0
  const pending = whenDescriptorsFree(() => {
    calls++
    return 'opened'
  }, { giveUpAfterMs: 1000, failedOnce: true })
  // Synchronously after the call: nothing tried yet.
  expect(calls).toBe(0)
  expect(await pending).toBe('opened')
  expect(calls).toBe(1)
})

it('gives up at its next try once the store is closing, so close() is not held for the rest of the bound', async () => {
  const closing = { started: false }
  let calls = 0
  const waiting = whenDescriptorsFree(() => {
    calls++
    if (calls === 2) closing.started = true // the store begins to close while this call waits
    throw exhausted('EMFILE')
  }, { closing })
  await expect(waiting).rejects.toMatchObject({ code: 'EMFILE' })
  expect(calls).toBe(2)
})
