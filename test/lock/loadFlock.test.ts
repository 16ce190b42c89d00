// loadFlock, the one place fs-ext is loaded: refused in a store thread (loading it in several threads crashes the
// process), an error that says what to do when the native build is missing, and loaded once. This file's process
// has not loaded fs-ext before these tests; the tests run in order, the last one loads it for real.
import { expect, it, vi } from 'vitest'
import { flockSync, loadFlock } from '../../lib/lock/flock.js'

const env = vi.hoisted(() => ({ storeThread: false, noNativeBuild: false }))

vi.mock('node:worker_threads', async importOriginal => {
  const real = await importOriginal<typeof import('node:worker_threads')>()
  return {
    ...real,
    get workerData (): unknown { return env.storeThread ? { casStoreThread: true } : real.workerData },
  }
})

vi.mock('node:module', async importOriginal => {
  const real = await importOriginal<typeof import('node:module')>()
  return {
    ...real,
    createRequire: (url: string | URL) => {
      const require = real.createRequire(url)
      return (id: string): unknown => {
        if (id === 'fs-ext' && env.noNativeBuild) {
          throw Object.assign(new Error('Could not locate the bindings file'), { code: 'MODULE_NOT_FOUND' })
        }
        return require(id)
      }
    },
  }
})

it('in a store thread, taking an OS lock is refused before fs-ext is loaded', () => {
  env.storeThread = true
  const refused = /a store thread tried to take an OS lock; its locked steps must be handed to the calling thread/
  expect(() => loadFlock()).toThrow(refused)
  expect(() => flockSync(0, 'un')).toThrow(refused)
  env.storeThread = false
})

it('without fs-ext\'s native build, loading fails with ERR_CAS_NATIVE_ADDON saying how to fix it', () => {
  env.noNativeBuild = true
  expect(() => loadFlock()).toThrow(expect.objectContaining({
    code: 'ERR_CAS_NATIVE_ADDON',
    message: expect.stringMatching(/Could not locate the bindings file.*install again/) as string,
  }) as Error)
  env.noNativeBuild = false
})

it('is loaded once: later calls return the same module without loading or checking again', () => {
  const fsExt = loadFlock()
  expect(typeof fsExt.flockSync).toBe('function')
  env.noNativeBuild = true
  env.storeThread = true
  try {
    expect(loadFlock()).toBe(fsExt)
  } finally {
    env.noNativeBuild = false
    env.storeThread = false
  }
})
