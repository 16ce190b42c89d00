// Benchmark child: ensurePackage every package of a list ([{ pkgId, integrity, url }]), `jobs` at a time, into a
// store; prints { ms, packages, fetched, errors }. `ms` runs from before openStore to after the last package.
import fs from 'node:fs'
import { openStore } from '../../lib/index.js'

const [storeDir, listFile, jobs] = process.argv.slice(2)
const list = JSON.parse(fs.readFileSync(listFile!, 'utf8')) as Array<{ pkgId: string, integrity: string, url: string }>
const started = performance.now()
const errors: string[] = []
let fetched = 0
let done = 0
try {
  const store = await openStore(storeDir!)
  let next = 0
  await Promise.all(Array.from({ length: Number(jobs ?? 8) }, async () => {
    while (next < list.length) {
      const pkg = list[next++]!
      try {
        const result = await store.ensurePackage({ integrity: pkg.integrity, pkgId: pkg.pkgId, tarball: pkg.url })
        if (result.fetched) fetched++
        done++
      } catch (err) {
        errors.push(`${pkg.pkgId}: ${String((err as Error).stack ?? err)}`)
      }
    }
  }))
  await store.close()
} catch (err) {
  errors.push(String((err as Error).stack ?? err))
}
console.log(JSON.stringify({ ms: performance.now() - started, packages: done, fetched, errors }))
