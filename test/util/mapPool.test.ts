// mapPool: at most `limit` calls at once, results in the order of the list, and on a failure no new call starts
// while every call already under way is waited for before the first error is thrown. That last rule is what lets
// an import (lib/import/fillStage.ts) or a push never be over while one of its calls still writes, and so never
// let the store close under it.
import { describe, expect, it } from 'vitest'
import { mapPool } from '../../lib/util/mapPool.js'
import { gate } from '../helpers/gate.js'

describe('mapPool', () => {
  it('keeps the order of the list and at most `limit` calls in flight', async () => {
    let running = 0
    let most = 0
    const results = await mapPool([5, 1, 4, 2, 3], 2, async n => {
      running++
      most = Math.max(most, running)
      for (let i = 0; i < n; i++) await Promise.resolve()
      running--
      return n * 10
    })
    expect(results).toEqual([50, 10, 40, 20, 30])
    expect(most).toBe(2)
  })

  it('on a failure starts no new call, waits for the calls under way, then throws the first error', async () => {
    const slow = gate()
    const started: number[] = []
    let slowDone = false
    const pooled = mapPool([0, 1, 2, 3], 2, async n => {
      started.push(n)
      if (n === 0) {
        await slow.wait()
        slowDone = true
        return n
      }
      throw new Error(`failed ${n}`)
    })
    let settled = false
    pooled.then(() => { settled = true }, () => { settled = true })
    await slow.reached
    for (let i = 0; i < 5; i++) await new Promise(resolve => setImmediate(resolve))
    expect(settled).toBe(false) // call 0 is still running
    expect(started).toEqual([0, 1]) // nothing started after call 1 failed
    slow.open()
    await expect(pooled).rejects.toThrow('failed 1')
    expect(slowDone).toBe(true)
  })

  it('of two failures, throws the one that came first', async () => {
    const pooled = mapPool([3, 1], 2, async ticks => {
      for (let i = 0; i < ticks; i++) await Promise.resolve()
      throw new Error(`failed after ${ticks}`)
    })
    await expect(pooled).rejects.toThrow('failed after 1')
  })

  it('an empty list resolves to an empty list without a call', async () => {
    expect(await mapPool([], 4, async () => { throw new Error('never called') })).toEqual([])
  })
})
