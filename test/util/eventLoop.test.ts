import { expect, it } from 'vitest'
import { EventLoopTurns } from '../../lib/util/eventLoop.js'

it('EventLoopTurns: no turn before everyMs, one after (the loop runs in it), then none again until everyMs more', async () => {
  const pace = new EventLoopTurns(200)
  expect(pace.turn()).toBeUndefined()
  const until = performance.now() + 250
  while (performance.now() < until) { /* synchronous work, as a scan's */ }
  let ran = false
  setImmediate(() => { ran = true }) // queued before the turn's own: it runs in the turn
  const turn = pace.turn()
  expect(turn).toBeInstanceOf(Promise)
  await turn
  expect(ran).toBe(true)
  expect(pace.turn()).toBeUndefined() // counted again from the turn
})
