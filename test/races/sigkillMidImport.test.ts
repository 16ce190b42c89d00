// A process killed mid-import (Ctrl-C'd CI job, OOM killer) must not leave a half-filled package folder that the
// next install takes for complete. A real importer process loops over a large package (replacing it with force,
// so every moment of its life is inside an import) and is SIGKILLed at random moments: the target is absent or
// whole every time, and the next import makes it whole. What the kills leave next to the target, `cas verify --fix`
// removes.
import fs from 'node:fs'
import path from 'node:path'
import { afterEach, expect, it } from 'vitest'
import { openStore } from '../../lib/index.js'
import { runFixture, type Child } from '../helpers/child.js'
import { expectWhole, packageEntries, storePackage, strayEntries } from '../helpers/importPkg.js'
import { tempDir } from '../helpers/tmp.js'

const children: Child[] = []
afterEach(() => { for (const c of children.splice(0)) c.proc.kill('SIGKILL') })

it('SIGKILL at random moments of an import: the target is either absent or complete', async () => {
  const dir = tempDir()
  const storeDir = path.join(dir, 'store')
  const entries = packageEntries('big-pkg', 3000, 2000)
  const { key, index } = await storePackage(storeDir, entries)
  const target = path.join(dir, 'node_modules', 'big-pkg')
  const seen = { absent: 0, whole: 0 }
  for (let kill = 0; kill < 6; kill++) {
    const child = runFixture('importer.ts', [storeDir, key, target, 'copy', 'forever'])
    children.push(child)
    await child.line(l => l === 'ready')
    await new Promise(resolve => setTimeout(resolve, 20 + Math.random() * 1500)) // a random moment, not a sync point
    child.proc.kill('SIGKILL')
    expect((await child.exited).signal).toBe('SIGKILL')
    if (fs.existsSync(target)) {
      expectWhole(target, entries)
      seen.whole++
    } else {
      seen.absent++
    }
  }
  expect(seen.absent + seen.whole).toBe(6)
  // Whatever the kills left (temp folders of their own, hidden next to the target, and old targets moved aside),
  // the next import completes, and `cas verify --fix` removes every one of them (the journals name them).
  const store = await openStore(storeDir)
  await store.importPackage(index, target, { method: 'copy' })
  await store.verifyStore({ fix: true, graceMs: 0 })
  await store.close()
  expectWhole(target, entries)
  expect(strayEntries(path.dirname(target))).toEqual(['big-pkg'])
}, 180_000)
