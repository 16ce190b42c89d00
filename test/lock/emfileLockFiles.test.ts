// From a second read of the locks: out of descriptors (EMFILE), opens wait for a free descriptor instead of failing
// (README). The lock files opened outside the stripes (the temp-owner record taken on a store's first write, a key
// lock's file) fail at once instead. A child under `ulimit -n 64` fills its descriptor table, starts the call, and
// frees the descriptors 300 ms later: a call that waits succeeds.
import fs from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { expect, it } from 'vitest'
import { runFixture } from '../helpers/child.js'
import { tempDir } from '../helpers/tmp.js'
import { requireTool } from '../helpers/tools.js'

const lib = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'lib', 'index.ts')

const CHILD = `
import fs from 'node:fs'
import { openStore } from ${JSON.stringify(lib)}
const [storeDir, what] = process.argv.slice(2)
const store = await openStore(storeDir, { threads: 0 })
if (what === 'control') await store.ensureFile(Buffer.from('an earlier write'), { mode: 0o644 })
const fillers = []
for (;;) {
  try { fillers.push(fs.openSync('/dev/null', 'r')) } catch { break }
}
// One descriptor free at once: the key lock's open takes it, and the entry's own calls must wait for more.
if (what === 'dir-one-free') fs.closeSync(fillers.pop())
setTimeout(() => { for (const fd of fillers) fs.closeSync(fd) }, 300)
let outcome
try {
  if (what === 'write' || what === 'control') await store.ensureFile(Buffer.from('first write of this store'), { mode: 0o644 })
  else if (what === 'fill-exhausts') {
    // The entry's fill takes every descriptor there is and gives them back only later: the marker must wait.
    await store.ensureDir('some-key', () => {
      const taken = []
      for (;;) {
        try { taken.push(fs.openSync('/dev/null', 'r')) } catch { break }
      }
      setTimeout(() => { for (const fd of taken) fs.closeSync(fd) }, 300)
    })
  } else await store.ensureDir('some-key', () => {})
  outcome = 'ok'
} catch (err) {
  outcome = String(err.code) + ' ' + err.message
}
await new Promise(resolve => setTimeout(resolve, 350))
await store.close()
console.log('RESULT ' + outcome)
`

async function runOutOfDescriptors (what: string): Promise<string> {
  requireTool('sh', 'dash', ['-c', 'ulimit -n 64'], "it lowers the child's descriptor limit with ulimit -n")
  const dir = tempDir()
  const script = path.join(tempDir(), 'child.mts')
  fs.writeFileSync(script, CHILD)
  const child = runFixture(path.relative(path.join(path.dirname(lib), '..', 'test', 'fixtures'), script), [dir, what], {},
    ['sh', '-c', 'ulimit -n 64 && exec "$@"', 'sh'])
  return (await child.line(l => l.startsWith('RESULT '))).slice('RESULT '.length)
}

it('the first write of a store, started out of descriptors, waits for one instead of failing', async () => {
  expect(await runOutOfDescriptors('write')).toBe('ok')
}, 60_000)

it('ensureDir, started out of descriptors, waits for one at its key lock instead of failing', async () => {
  expect(await runOutOfDescriptors('dir')).toBe('ok')
}, 60_000)

it('ensureDir whose key lock took the one free descriptor: its own listing and marker wait for more', async () => {
  expect(await runOutOfDescriptors('dir-one-free')).toBe('ok')
}, 60_000)

it('ensureDir whose fill leaves no descriptor: the completion marker waits for one', async () => {
  expect(await runOutOfDescriptors('fill-exhausts')).toBe('ok')
}, 60_000)

it('control (passes): a later write of the same store, out of descriptors, waits and succeeds', async () => {
  expect(await runOutOfDescriptors('control')).toBe('ok')
}, 60_000)
