// Benchmark child: streams `size` bytes (64 KiB chunks, generated on the fly) through ensureFile; prints
// { ms, size, rssGrowth } with the peak RSS growth over the baseline measured just before.
import { openStore } from '../cas.js'

const [storeDir, sizeArg] = process.argv.slice(2)
const size = Number(sizeArg)
const store = await openStore(storeDir!)
async function * generate (): AsyncGenerator<Buffer> {
  for (let offset = 0, n = 0; offset < size; offset += 65536, n++) {
    const chunk = Buffer.alloc(Math.min(65536, size - offset), n & 0xff)
    chunk.writeUInt32LE(n, 0)
    yield chunk
  }
}
const baseline = process.resourceUsage().maxRSS * 1024
const started = performance.now()
const added = await store.ensureFile(generate(), { mode: 0o644 })
const ms = performance.now() - started
const rssGrowth = process.resourceUsage().maxRSS * 1024 - baseline
await store.close()
console.log(JSON.stringify({ ms, size: added.size, rssGrowth }))
