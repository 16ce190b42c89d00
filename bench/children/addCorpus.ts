// Benchmark child: adds a corpus to a store and prints { ms, files, errors }. Several run at once for the
// contention scenario.
import { openStore } from '../../lib/index.js'

const [storeDir, corpus] = process.argv.slice(2)
const started = performance.now()
const errors: string[] = []
let files = 0
try {
  const store = await openStore(storeDir!)
  files = (await store.addFilesFromDir(corpus!)).files.size
  await store.close()
} catch (err) {
  errors.push(String((err as Error).stack ?? err))
}
console.log(JSON.stringify({ ms: performance.now() - started, files, errors }))
