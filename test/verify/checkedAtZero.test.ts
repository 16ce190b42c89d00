// From a second read of the verifier: `checkedAt` 0 means "never checked": such a file can only be hashed (README,
// checkFiles.ts). checkFile's fast path still trusts it by stat when its mtime is in the first 100 ms of 1970 (a
// store copied with preserved times from a tool that zeroes them, `touch -d @0`), so corrupt bytes pass: with
// threads: 0 directly, and with threads too, since a file the thread did not prove good goes back through
// checkFile, which trusts it.
import crypto from 'node:crypto'
import fs from 'node:fs'
import path from 'node:path'
import { expect, it } from 'vitest'
import { openStore } from '../../lib/index.js'
import { tempDir } from '../helpers/tmp.js'

for (const threads of [0, 2]) {
  it(`threads: ${threads}: a corrupt file with mtime 0 and checkedAt 0 is hashed, and fails`, async () => {
    const store = await openStore(tempDir(), { threads })
    const good = Buffer.from('the good bytes of this file')
    const digest = crypto.createHash('sha512').update(good).digest('hex')
    const target = store.filePathFor(digest, 0o644)
    fs.mkdirSync(path.dirname(target), { recursive: true })
    fs.writeFileSync(target, Buffer.alloc(good.length, 0x5a)) // right size, wrong bytes
    fs.utimesSync(target, 0, 0)
    const files = new Map<string, { digest: string, mode: number, size: number, checkedAt: number }>()
    // 64 files so that a store with threads hashes on them; one is corrupt.
    files.set('bad.js', { digest, mode: 0o644, size: good.length, checkedAt: 0 })
    for (let i = 0; i < 63; i++) {
      const f = await store.ensureFile(Buffer.from(`filler ${i}`), { mode: 0o644 })
      files.set(`f${i}.js`, { digest: f.digest, mode: 0o644, size: f.size, checkedAt: 0 })
    }
    const result = await store.checkPkgFilesIntegrity({ algo: 'sha512', files })
    await store.close()
    expect(result.passed).toBe(false)
    expect(result.corrupt).toEqual(['bad.js'])
  })
}
