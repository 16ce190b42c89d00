// Benchmark child: one CI runner. ensurePackage's every package of a list ([{ integrity, pkgId, url }]) into its
// store, `jobs` at a time, with or without the remote, then closes the store (waiting for uploads) and prints
// { ms, packages, errors, remoteErrors, stats }. ms covers the installs and the close.
//   remoteFill.ts <storeDir> <list.json> <remote url | -> <upload: true|false> <jobs>
import fs from 'node:fs'
import { openStore } from '../cas.js'

const [storeDir, listFile, remote, upload, jobs] = process.argv.slice(2)
const list = JSON.parse(fs.readFileSync(listFile!, 'utf8')) as Array<{ integrity: string, pkgId: string, url: string }>
const errors: string[] = []
const remoteErrors: string[] = []
const store = await openStore(storeDir!, remote === '-'
  ? {}
  : { remote: { url: remote!, upload: upload === 'true' }, onRemoteError: e => { remoteErrors.push(`${e.code} ${e.message}`) } })
const started = performance.now()
let next = 0
await Promise.all(Array.from({ length: Number(jobs) }, async () => {
  while (next < list.length) {
    const pkg = list[next++]!
    try {
      await store.ensurePackage({ integrity: pkg.integrity, pkgId: pkg.pkgId, tarball: pkg.url })
    } catch (err) {
      errors.push(`${pkg.pkgId}: ${(err as Error).message}`)
    }
  }
}))
const stats = store.remoteStats
await store.close()
console.log(JSON.stringify({ ms: performance.now() - started, packages: list.length, errors, remoteErrors, stats }))
