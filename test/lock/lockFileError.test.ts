// From a second read of the locks: a lock file that cannot be opened (ERR_CAS_LOCK_FILE) on the writer's
// synchronous lock path must not leave the in-process path mutex held: the next call for the same content must not
// hang forever.
import fs from 'node:fs'
import path from 'node:path'
import { expect, it } from 'vitest'
import { openStore } from '../../lib/index.js'
import { tempDir } from '../helpers/tmp.js'

function settledWithin<T> (p: Promise<T>, ms: number): Promise<'settled' | 'hung'> {
  return Promise.race([
    p.then(() => 'settled' as const, () => 'settled' as const),
    new Promise<'hung'>(resolve => setTimeout(() => resolve('hung'), ms).unref()),
  ])
}

it('after ERR_CAS_LOCK_FILE, writing the same content again fails or succeeds, it never hangs', async () => {
  const dir = tempDir()
  const store = await openStore(dir, { threads: 0 })
  const locks = path.join(store.root, 'locks')
  for (let i = 0; i < 256; i++) fs.mkdirSync(path.join(locks, i.toString(16).padStart(2, '0')))
  const data = Buffer.from('content whose lock file is broken')
  const err = await store.ensureFile(data, { mode: 0o644 }).catch((e: unknown) => e) as { code: string }
  expect(err.code).toBe('ERR_CAS_LOCK_FILE')
  // The user fixes the locks folder; the process goes on.
  fs.rmSync(locks, { recursive: true, force: true })
  fs.mkdirSync(locks)
  const again = store.ensureFile(data, { mode: 0o644 })
  expect(await settledWithin(again, 3000)).toBe('settled')
  await expect(again).resolves.toMatchObject({ size: data.length })
})

it('after ERR_CAS_LOCK_FILE on a write, the verifier of that content does not hang', async () => {
  const dir = tempDir()
  const store = await openStore(dir, { threads: 0 })
  const locks = path.join(store.root, 'locks')
  const data = Buffer.from('another content')
  const good = await store.ensureFile(Buffer.from('x'), { mode: 0o644 }) // warm up
  expect(good.size).toBe(1)
  for (let i = 0; i < 256; i++) {
    const f = path.join(locks, i.toString(16).padStart(2, '0'))
    fs.rmSync(f, { force: true })
    fs.mkdirSync(f)
  }
  const err = await store.ensureFile(data, { mode: 0o644 }).catch((e: unknown) => e) as { code: string }
  expect(err.code).toBe('ERR_CAS_LOCK_FILE')
  fs.rmSync(locks, { recursive: true, force: true })
  fs.mkdirSync(locks)
  // Put corrupt bytes at the content path of `data`, so the verifier must take the path lock.
  const { createHash } = await import('node:crypto')
  const digest = createHash('sha512').update(data).digest('hex')
  const target = store.filePathFor(digest, 0o644)
  fs.mkdirSync(path.dirname(target), { recursive: true })
  fs.writeFileSync(target, Buffer.alloc(data.length, 0x41))
  const checking = store.checkPkgFilesIntegrity({ algo: 'sha512', files: new Map([['a', { digest, mode: 0o644, size: data.length, checkedAt: 0 }]]) })
  expect(await settledWithin(checking, 3000)).toBe('settled')
  await store.close()
})

it('PathLock.tryAcquireSync that throws (lock file unusable) leaves no in-process mutex held', async () => {
  const { PathLock } = await import('../../lib/lock/pathLock.js')
  const locks = tempDir()
  fs.mkdirSync(path.join(locks, '03'))
  const lock = new PathLock(locks)
  expect(() => lock.tryAcquireSync('p', 3)).toThrow(/EISDIR/)
  expect(lock.activeKeys).toBe(0)
  lock.close()
})
