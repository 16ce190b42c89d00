import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { contentPathFor, isExecutable, openStore, resolveStoreRoot, storedMode } from '../../lib/index.js'
import { tempDir } from '../helpers/tmp.js'

const digest = 'ab' + 'c'.repeat(126)

describe('store layout', () => {
  it('resolves the root as pnpm does: <dir>/v11 unless dir already is v11', () => {
    expect(resolveStoreRoot('/x/store')).toBe('/x/store/v11')
    expect(resolveStoreRoot('/x/store/v11')).toBe('/x/store/v11')
    expect(resolveStoreRoot('/x/store/v11/')).toBe('/x/store/v11')
    expect(resolveStoreRoot('rel')).toBe(path.resolve('rel', 'v11'))
    // A pnpm 10 store is opened by naming its folder (read and verify only; indexes stay v10 JSON).
    expect(resolveStoreRoot('/x/store/v10')).toBe('/x/store/v10')
  })

  it('puts content at files/<2 hex>/<126 hex>, with -exec when any execute bit is set', () => {
    expect(contentPathFor('/s', digest, 0o644)).toBe(`/s/files/ab/${'c'.repeat(126)}`)
    for (const mode of [0o755, 0o744, 0o654, 0o645, 0o100]) {
      expect(contentPathFor('/s', digest, mode)).toBe(`/s/files/ab/${'c'.repeat(126)}-exec`)
    }
    expect(isExecutable(0o100644)).toBe(false)
    expect(isExecutable(0o100755)).toBe(true)
    expect(storedMode(0o700)).toBe(0o755)
    expect(storedMode(0o600)).toBe(0o644)
  })

  it('never turns a malformed digest into a path', async () => {
    const store = await openStore(tempDir())
    expect(() => store.filePathFor('../../../../etc/passwd', 0o644)).toThrow(expect.objectContaining({ code: 'ERR_CAS_BAD_DIGEST' }))
    expect(() => store.filePathFor(digest.slice(1), 0o644)).toThrow(expect.objectContaining({ code: 'ERR_CAS_BAD_DIGEST' }))
    await store.close()
  })

  it('openStore creates the v11 root and exposes it as an absolute path', async () => {
    const dir = tempDir()
    const store = await openStore(dir)
    expect(store.root).toBe(path.join(dir, 'v11'))
    expect(store.filePathFor(digest, 0o755)).toBe(path.join(dir, 'v11', 'files', 'ab', 'c'.repeat(126) + '-exec'))
    await store.close()
    await expect(store.ensureFile(Buffer.from('x'), { mode: 0o644 })).rejects.toMatchObject({ code: 'ERR_CAS_CLOSED' })
  })
})
