/**
 * A pause point's other half: `wait()` is what a hook awaits; `open()` lets it through. `reached` resolves the
 * first time something waits, so a test knows the other side of the race is parked exactly there.
 */
export interface Gate {
  wait: () => Promise<void>
  open: () => void
  reached: Promise<void>
}

export function gate (): Gate {
  let open!: () => void
  let markReached!: () => void
  const opened = new Promise<void>(resolve => { open = resolve })
  const reached = new Promise<void>(resolve => { markReached = resolve })
  return {
    wait: async () => {
      markReached()
      await opened
    },
    open,
    reached,
  }
}

/** A promise that resolves the first time `signal()` is called. */
export function signal (): { signal: () => void, signalled: Promise<void> } {
  let signalFn!: () => void
  const signalled = new Promise<void>(resolve => { signalFn = resolve })
  return { signal: signalFn, signalled }
}
