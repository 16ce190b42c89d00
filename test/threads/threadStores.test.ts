// The thread side of a store (`threadStores.ts`), called here in the test process: the per-task context a
// store thread builds, its owner id and the module URLs tasks are sent to.
import { describe, expect, it } from 'vitest'
import { ownerId } from '../../lib/layout/tempName.js'
import { closeThreadStores, siblingModule, taskContext, threadOwnerId } from '../../lib/threads/threadStores.js'
import { tempDir } from '../helpers/tmp.js'

describe('threadStores', () => {
  it('a task context is the store\'s, with that task\'s own hand-off list and no temp-owner record', () => {
    const root = tempDir()
    const first: never[] = []
    const second: never[] = []
    const a = taskContext({ root, fsync: false }, first)
    const b = taskContext({ root, fsync: false }, second)
    expect(a.root).toBe(root)
    expect(a.handOff).toBe(first)
    expect(b.handOff).toBe(second)
    expect(a.tempOwner).toBeUndefined()
    // One context per store, reused by every task (its locks and caches are the store's, not the task's).
    expect(b.lock).toBe(a.lock)
    const synced = taskContext({ root, fsync: true }, [])
    expect(synced.fsync).toBe(true)
    expect(a.fsync).toBe(false)
    expect(synced.lock).not.toBe(a.lock)
    closeThreadStores()
    expect(taskContext({ root, fsync: false }, []).lock).not.toBe(a.lock)
    closeThreadStores()
  })

  it('the thread\'s owner id is the one its temp names carry', () => {
    expect(threadOwnerId()).toBe(ownerId())
  })

  it('siblingModule keeps the form of its base: .ts from sources, .js built', () => {
    expect(siblingModule('file:///x/lib/threads/storeThreads.ts', 'threadStores').href).toBe('file:///x/lib/threads/threadStores.ts')
    expect(siblingModule('file:///x/dist/threads/storeThreads.js', 'threadStores').href).toBe('file:///x/dist/threads/threadStores.js')
  })
})
