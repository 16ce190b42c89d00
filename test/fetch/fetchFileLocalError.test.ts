// A local fs error while downloading is thrown as it is (with its code and syscall), not as a network failure:
// the download's own file cannot be created, because a dangling link stands at its name (the name is fixed here
// through the one function that makes it, so the link can be planted first). It is also what a failed park must
// never replace: the download's own error reaches the caller.
import fs from 'node:fs'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import path from 'node:path'
import { afterEach, expect, it, vi } from 'vitest'
import { openStore } from '../../lib/index.js'
import { contentOf, sha512Hex } from '../helpers/content.js'
import { tempDir } from '../helpers/tmp.js'

const OWN = 'fixed-own-name.cas-tmp'
vi.mock('../../lib/layout/tempName.js', async importOriginal => {
  const real = await importOriginal<typeof import('../../lib/layout/tempName.js')>()
  return { ...real, ownPartialName: (digest: string) => `${digest}.${OWN}` }
})

// The disk fills up while the body is written: the first write of a download fails with ENOSPC when this is set.
let diskFull = false
vi.mock('../../lib/util/fs.js', async importOriginal => {
  const real = await importOriginal<typeof import('../../lib/util/fs.js')>()
  return {
    ...real,
    writeAllAsync: async (fd: number, data: Uint8Array, position?: number) => {
      if (diskFull) throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC', syscall: 'write' })
      await real.writeAllAsync(fd, data, position)
    },
  }
})

const closers: Array<() => Promise<void>> = []
afterEach(async () => {
  diskFull = false
  for (const close of closers.splice(0)) await close()
})

it('a local fs error while downloading is thrown as it is, not as a network failure', async () => {
  const body = contentOf('local-error', 1, 50_000)
  const digest = sha512Hex(body)
  const server = http.createServer((_req, res) => { res.writeHead(200).end(body) })
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  closers.push(async () => { await new Promise(resolve => server.close(resolve)) })
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/f.bin`
  const store = await openStore(tempDir())
  closers.unshift(async () => { await store.close() })
  const partialDir = path.join(store.root, 'partial')
  fs.mkdirSync(partialDir, { recursive: true })
  fs.symlinkSync(path.join(store.root, 'no-such-folder', 'x'), path.join(partialDir, `${digest}.${OWN}`))
  await expect(store.fetchFile(url, { digest })).rejects.toMatchObject({ code: 'ENOENT', syscall: 'open' })
})

it('a local fs error while the body is written (a full disk) is thrown as it is, not as a network failure', async () => {
  const body = contentOf('local-error', 2, 50_000)
  const digest = sha512Hex(body)
  const server = http.createServer((_req, res) => { res.writeHead(200).end(body) })
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  closers.push(async () => { await new Promise(resolve => server.close(resolve)) })
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/f.bin`
  const store = await openStore(tempDir())
  closers.unshift(async () => { await store.close() })
  diskFull = true
  await expect(store.fetchFile(url, { digest })).rejects.toMatchObject({ code: 'ENOSPC', syscall: 'write' })
})
