import fs from 'node:fs'

/** Synchronous fs calls a squeeze can make meet a full descriptor table. */
export type SqueezedCall = 'readdirSync' | 'openSync' | 'readFileSync'

/**
 * Makes the first call of each kind on each path that `squeezes(path, call)` picks meet a full descriptor table: just
 * before it, this process takes every free descriptor (opening /dev/null), and the call fails with EMFILE. The
 * descriptors are given back when the same call is made again (the caller's retry), or when any picked call
 * succeeds: so code that tries again gets its descriptor, and code that gives up on EMFILE fails. Nothing depends
 * on timing (an earlier version gave one back on the next turn of the event loop, and under load the caller's
 * retry timer sometimes came first). How long a caller waits before its retry is for unit tests to pin.
 * `emfile` counts the failures per kind squeezed; `restore()` gives every descriptor back and puts the calls back.
 * Meant for a child process under a low `ulimit -n` (a test runner's own descriptors are not to be taken).
 */
export function squeezeDescriptors (squeezes: (path: string, call: SqueezedCall) => boolean, calls: SqueezedCall[]): {
  emfile: Partial<Record<SqueezedCall, number>>
  restore: () => void
} {
  const held: number[] = []
  const fillTable = (): void => {
    for (;;) {
      try {
        held.push(fs.openSync('/dev/null', 'r'))
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'EMFILE') return
        throw err
      }
    }
  }
  const giveAllBack = (): void => { for (const fd of held.splice(0)) fs.closeSync(fd) }
  const emfile: Partial<Record<SqueezedCall, number>> = {}
  for (const call of calls) emfile[call] = 0
  const squeezed = new Set<string>()
  const originals = new Map<SqueezedCall, (...args: any[]) => any>()
  for (const call of calls) {
    const real = fs[call] as (...args: any[]) => any
    originals.set(call, real)
    const wrapped = function (this: unknown, ...args: unknown[]): unknown {
      const target = args[0]
      const picked = typeof target === 'string' && squeezes(target, call)
      if (picked && !squeezed.has(`${call} ${target}`)) {
        squeezed.add(`${call} ${target}`)
        fillTable()
      } else if (picked) {
        giveAllBack() // the retry of a squeezed call: its descriptor is there now
      }
      try {
        const result = real.apply(this, args)
        // The shortage was this call's: once it got its descriptor, the others are free again for whatever
        // comes next (the writer's temp file, a lock file), which is not squeezed.
        if (picked) giveAllBack()
        return result
      } catch (err) {
        if (picked && (err as NodeJS.ErrnoException).code === 'EMFILE') emfile[call]!++
        throw err
      }
    }
    ;(fs as unknown as Record<string, unknown>)[call] = wrapped
  }
  return {
    emfile,
    restore: () => {
      for (const [call, real] of originals) (fs as unknown as Record<string, unknown>)[call] = real
      giveAllBack()
    },
  }
}
