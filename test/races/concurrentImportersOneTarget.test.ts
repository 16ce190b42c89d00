// pnpm #12197 / #7713: two installs importing into one tree leave packages with missing files, or fail with
// EEXIST. Four real processes import one package into one target at the same moment, 20 rounds: every call
// succeeds, exactly one per round builds the target, the others keep it, and it is whole each time.
import fs from 'node:fs'
import path from 'node:path'
import { afterEach, expect, it } from 'vitest'
import { runFixture, type Child } from '../helpers/child.js'
import { expectWhole, packageEntries, storePackage, strayEntries } from '../helpers/importPkg.js'
import { tempDir } from '../helpers/tmp.js'

const children: Child[] = []
afterEach(() => { for (const c of children.splice(0)) c.proc.kill('SIGKILL') })

it('four processes import the same package into the same target at once, 20 rounds: all succeed, target whole', async () => {
  const dir = tempDir()
  const storeDir = path.join(dir, 'store')
  // Large enough (600 files) that an import takes longer than the four children take to react to "go".
  const entries = packageEntries('shared-dep', 600)
  const { key } = await storePackage(storeDir, entries)
  const nm = path.join(dir, 'node_modules')
  fs.mkdirSync(nm)
  const target = path.join(nm, 'shared-dep')
  for (let i = 0; i < 4; i++) children.push(runFixture('importer.ts', [storeDir, key, target, 'hardlink', 'rounds']))
  await Promise.all(children.map(async c => await c.line(l => l === 'ready')))

  for (let round = 0; round < 20; round++) {
    fs.rmSync(target, { recursive: true, force: true })
    for (const c of children) c.send(`go ${round}`)
    const answers = await Promise.all(children.map(async c => await c.line(l => l.endsWith(` ${round}`) || l.includes(` ${round} `))))
    for (const answer of answers) expect(answer).toMatch(new RegExp(`^done ${round} `))
    const results = answers.map(a => JSON.parse(a.slice(a.indexOf('{'))) as { imported: boolean, method: string })
    // Exactly one rename won; the others found the complete target (before building, or after losing the race).
    expect(results.filter(r => r.imported)).toHaveLength(1)
    expectWhole(target, entries)
    expect(strayEntries(nm, ['shared-dep'])).toEqual([])
  }
}, 180_000)
