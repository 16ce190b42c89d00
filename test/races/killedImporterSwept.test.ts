// An importer killed mid-import (Ctrl-C'd CI job, OOM killer) left its hidden temp folder in node_modules forever:
// nothing removed it, and the only repair was deleting node_modules by hand. Its store's import journal names the
// folder, so `cas verify --fix` (and `cas prune`) remove it once its importer is dead, and only then: a live
// importer's folder, however long it waits, is left alone. Real importer processes, parked at the `import:staged`
// pause point (the folder made, no file in it yet), killed or let go.
import fs from 'node:fs'
import path from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { openStore } from '../../lib/index.js'
import { runCas } from '../helpers/cas.js'
import { runFixture, type Child } from '../helpers/child.js'
import { expectWhole, packageEntries, storePackage, strayEntries } from '../helpers/importPkg.js'
import { tempDir } from '../helpers/tmp.js'

const children: Child[] = []
afterEach(() => { for (const c of children.splice(0)) c.proc.kill('SIGKILL') })

async function setup (): Promise<{ storeDir: string, root: string, nm: string, target: string, key: string }> {
  const dir = tempDir()
  const storeDir = path.join(dir, 'store')
  const entries = packageEntries('pkg', 50)
  const { key } = await storePackage(storeDir, entries)
  const nm = path.join(dir, 'node_modules')
  return { storeDir, root: path.join(storeDir, 'v11'), nm, target: path.join(nm, 'pkg'), key }
}

/** Starts an importer of `key` into `target` and waits until it is parked with its temp folder made. */
async function parkedImporter (
  storeDir: string, key: string, target: string,
): Promise<{ child: Child, stage: string }> {
  const child = runFixture('importer.ts', [storeDir, key, target, 'copy', 'paused'])
  children.push(child)
  const line = await child.line(l => l.startsWith('staged '))
  const stage = line.slice('staged '.length)
  expect(fs.statSync(stage).isDirectory()).toBe(true)
  return { child, stage }
}

const journals = (root: string): string[] =>
  fs.readdirSync(path.join(root, 'tmp')).filter(name => name.endsWith('.cas-imports'))

describe('a killed importer\'s temp folder', () => {
  it('SIGKILLed mid-import: cas verify lists its folder, --fix removes it and its journal; the next import works', async () => {
    const { storeDir, root, nm, target, key } = await setup()
    const { child, stage } = await parkedImporter(storeDir, key, target)
    child.proc.kill('SIGKILL')
    expect((await child.exited).signal).toBe('SIGKILL')
    expect(strayEntries(nm)).toEqual([path.basename(stage)])
    expect(journals(root)).toHaveLength(1)

    const listed = await runCas(['verify', '--store', storeDir, '--grace', '0'])
    expect(listed.stdout).toContain(`left by a killed import: ${stage}\n`)
    expect(strayEntries(nm)).toEqual([path.basename(stage)])

    const fixed = await runCas(['verify', '--store', storeDir, '--grace', '0', '--fix'])
    expect(fixed.code).toBe(0)
    expect(fixed.stdout).toContain(`left by a killed import: ${stage}  [removed]\n`)
    expect(strayEntries(nm)).toEqual([])
    expect(journals(root)).toEqual([])

    const store = await openStore(storeDir)
    const index = await store.readPackageIndex(key)
    expect(await store.importPackage(index!, target, { method: 'copy' })).toEqual({ method: 'copy', imported: true })
    await store.close()
    expectWhole(target, packageEntries('pkg', 50))
    expect(strayEntries(nm)).toEqual(['pkg'])
  })

  it('a live importer parked mid-import keeps its folder through cas verify --fix and cas prune, then finishes', async () => {
    const { storeDir, root, nm, target, key } = await setup()
    const { child, stage } = await parkedImporter(storeDir, key, target)
    const fixed = await runCas(['verify', '--store', storeDir, '--grace', '0', '--fix', '--json'])
    expect(fixed.code).toBe(0)
    const swept = JSON.parse(fixed.stdout).staleTemps as Array<{ kind: string }>
    expect(swept.filter(t => t.kind === 'import-journal')).toEqual([])
    const pruned = await runCas(['prune', '--store', storeDir, '--grace', '0', '--json'])
    expect(pruned.code).toBe(0)
    expect(JSON.parse(pruned.stdout).tempsRemoved).toBe(0)
    expect(strayEntries(nm)).toEqual([path.basename(stage)])
    expect(journals(root)).toHaveLength(1)

    child.send('go on')
    expect(JSON.parse((await child.line(l => l.startsWith('done '))).slice('done '.length)))
      .toEqual({ method: 'copy', imported: true })
    await child.line(l => l === 'closed')
    expect((await child.exited).code).toBe(0)
    expectWhole(target, packageEntries('pkg', 50))
    expect(strayEntries(nm)).toEqual(['pkg'])
    expect(journals(root)).toEqual([]) // a store that closes with no import in flight removes its journal
  })
})
