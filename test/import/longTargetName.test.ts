// The temp folder of an import sits next to its target: `.<target name>.cas-import-<pid>-<thread>-<counter>-<16
// hex>`. npm allows 214-character package names; with a 7-digit pid (pid_max is 4194304 on 64-bit systemd hosts)
// and a counter past 36^3 (one temp name per content file written by the process), the whole name passed NAME_MAX
// (255) and the import of a valid target failed with a bare ENAMETOOLONG. The name part is now cut to fit. Here
// the pid is whatever it is, so the counter is advanced until the id is as long as on such a host.
import fs from 'node:fs'
import path from 'node:path'
import { expect, it } from 'vitest'
import { openStore } from '../../lib/index.js'
import { uniqueId } from '../../lib/layout/tempName.js'
import { expectWhole, packageEntries, storePackage } from '../helpers/importPkg.js'
import { tempDir } from '../helpers/tmp.js'

it('a 214-character package name (npm\'s maximum) imports, however long this process\'s temp ids have grown', async () => {
  const dir = tempDir()
  const storeDir = path.join(dir, 'store')
  const entries = packageEntries('p', 5)
  const { index } = await storePackage(storeDir, entries)
  const name = 'n'.repeat(214)
  const target = path.join(dir, 'node_modules', name)
  fs.mkdirSync(target, { recursive: true }) // the target name itself is fine for the file system
  fs.rmdirSync(target)
  // 1 + 214 + '.cas-import-'.length (12) + id > 255 once the id has 29 characters (31 with a 7-digit pid and a
  // 4-character counter).
  while (uniqueId().length < 29) { /* advance the counter, as a long install does */ }
  const store = await openStore(storeDir)
  try {
    expect(await store.importPackage(index, target, { method: 'copy' })).toEqual({ method: 'copy', imported: true })
  } finally {
    await store.close()
  }
  expectWhole(target, entries)
}, 60_000)
