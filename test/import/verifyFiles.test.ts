import fs from 'node:fs'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { openStore, type PackageIndex } from '../../lib/index.js'
import { CHECKED_AT_TOLERANCE_MS } from '../../lib/verify/checkFile.js'
import { expectWhole, packageEntries, storePackage, strayEntries } from '../helpers/importPkg.js'
import { tempDir } from '../helpers/tmp.js'

/* The check an import runs on the store's files before it writes anything (see also importPackage.test.ts). */

const entries = packageEntries('p', 10)

async function setup (): Promise<{ dir: string, storeDir: string, nm: string, index: PackageIndex }> {
  const dir = tempDir()
  const storeDir = path.join(dir, 'store')
  const { index } = await storePackage(storeDir, entries)
  const nm = path.join(dir, 'node_modules')
  fs.mkdirSync(nm)
  return { dir, storeDir, nm, index }
}

describe('verifyFiles (through importPackage)', () => {
  it('a store file changed since its check but still right is hashed, imported, and its checkedAt renewed', async () => {
    const { storeDir, nm, index } = await setup()
    const store = await openStore(storeDir)
    const info = index.files.get('lib/f0.js')!
    const before = info.checkedAt! - 60_000 // the index says: checked a minute before the file last changed
    info.checkedAt = before
    expect(await store.importPackage(index, path.join(nm, 'p'), { method: 'copy' }))
      .toEqual({ method: 'copy', imported: true })
    expectWhole(path.join(nm, 'p'), entries)
    // Renewed, so the next install trusts the file by one stat instead of hashing it again.
    const { mtimeMs } = fs.statSync(store.filePathFor(info.digest, info.mode))
    expect(info.checkedAt).toBeGreaterThan(before)
    expect(info.checkedAt! + CHECKED_AT_TOLERANCE_MS).toBeGreaterThanOrEqual(mtimeMs)
    await store.close()
  })

  it.each(['missing', 'corrupt'])('%s content fails before anything is written, not even the target\'s parent folders', async (damage) => {
    const { storeDir, nm, index } = await setup()
    const store = await openStore(storeDir)
    const info = index.files.get('bin/f2.js')!
    const src = store.filePathFor(info.digest, info.mode)
    if (damage === 'missing') {
      fs.unlinkSync(src)
    } else {
      fs.writeFileSync(src, Buffer.alloc(info.size, 'x')) // same size, rewritten in place after its check
      const late = new Date(info.checkedAt! + 60_000)
      fs.utimesSync(src, late, late)
    }
    await expect(store.importPackage(index, path.join(nm, 'deep', 'er', 'p')))
      .rejects.toMatchObject({ code: 'ERR_CAS_MISSING_CONTENT', files: ['bin/f2.js'] })
    expect(strayEntries(nm)).toEqual([])
    await store.close()
  })

  // Refetching cannot repair what the user must fix (a loop, a permission): say so instead of "missing".
  it('a store path that cannot be stat\'ed (a symlink loop in its place) is ERR_CAS_FILE_ACCESS, not missing content', async () => {
    const { storeDir, nm, index } = await setup()
    const store = await openStore(storeDir)
    const info = index.files.get('lib/f0.js')!
    const src = store.filePathFor(info.digest, info.mode)
    fs.unlinkSync(src)
    fs.symlinkSync(src, src)
    await expect(store.importPackage(index, path.join(nm, 'p')))
      .rejects.toMatchObject({ code: 'ERR_CAS_FILE_ACCESS', path: src })
    expect(strayEntries(nm)).toEqual([])
    await store.close()
  })

  it('trusts the content paths this install already verified: they are not checked (nor judged) again', async () => {
    const { storeDir, nm, index } = await setup()
    const store = await openStore(storeDir)
    const info = index.files.get('lib/f0.js')!
    const src = store.filePathFor(info.digest, info.mode)
    const verifiedFiles = new Set([src])
    // Rewritten after this install checked it (the case a second check would catch and remove).
    fs.writeFileSync(src, Buffer.alloc(info.size, 'x'))
    const late = new Date(info.checkedAt! + 60_000)
    fs.utimesSync(src, late, late)
    expect((await store.importPackage(index, path.join(nm, 'p'), { method: 'copy', verifiedFiles })).imported)
      .toBe(true)
    expect(fs.existsSync(src)).toBe(true)
    await store.close()
  })
})
