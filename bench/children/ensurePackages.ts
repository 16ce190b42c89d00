// Benchmark child: ensurePackage every package of a list ([{ pkgId, integrity, url }]), `jobs` at a time, into a
// store; prints { ms, cpuMs, packages, fetched, errors }. `ms` runs from before openStore to after the last package.
//   ensurePackages.ts <storeDir> <list.json> [jobs] [noverify]
import fs from 'node:fs'
import { openStore } from '../cas.js'

const [storeDir, listFile, jobs, mode] = process.argv.slice(2)
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
        const result = await store.ensurePackage({ integrity: pkg.integrity, pkgId: pkg.pkgId, tarball: pkg.url, verify: mode !== 'noverify' })
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
const cpu = process.cpuUsage() // the whole process, start-up included
const cpuMs = (cpu.user + cpu.system) / 1000
console.log(JSON.stringify({ ms: performance.now() - started, cpuMs, packages: done, fetched, errors }))
