// Interop: packages that the real pnpm 12 put in its store are imported by cas-store into a node_modules that
// Node can require from, with pnpm's own layout (`-exec` content for executables) and index rows.
import { execFileSync } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import { expect, it } from 'vitest'
import { openStore, type PackageIndex } from '../../lib/index.js'
import { runCas } from '../helpers/cas.js'
import { FIXTURES, runPnpm, writeFileProject } from '../helpers/pnpm.js'
import { tempDir } from '../helpers/tmp.js'

it('imports packages pnpm 12 stored, and they require() and run', async () => {
  const dir = tempDir()
  const storeDir = path.join(dir, 'store')
  await runPnpm(['install', '--offline', '--store-dir', storeDir], writeFileProject(dir), dir)
  const store = await openStore(storeDir)
  const byName = new Map<string, { key: string, index: PackageIndex }>()
  for await (const { key, index } of store.listPackageIndexes()) {
    byName.set((index!.manifest as { name: string }).name, { key, index: index! })
  }
  expect([...byName.keys()].sort()).toEqual(['pkg-a', 'pkg-b', 'pkg-c'])

  const app = path.join(dir, 'app')
  const nm = path.join(app, 'node_modules')
  const verifiedFiles = new Set<string>()
  for (const name of ['pkg-a', 'pkg-c']) {
    expect(await store.importPackage(byName.get(name)!.index, path.join(nm, name), { verifiedFiles }))
      .toEqual({ method: 'hardlink', imported: true })
  }
  // pkg-b has a postinstall script: pnpm flagged it requiresBuild, so it is copied, not linked.
  const b = byName.get('pkg-b')!
  expect(b.index.requiresBuild).toBe(true)
  expect(await store.importPackage(b.index, path.join(nm, 'pkg-b'), { verifiedFiles }))
    .toEqual({ method: 'copy', imported: true })
  await store.close()

  fs.writeFileSync(path.join(app, 'main.js'), 'console.log([require("pkg-a"), require("pkg-b"), require("pkg-c")].join(","))\n')
  expect(execFileSync(process.execPath, ['main.js'], { cwd: app, encoding: 'utf8' })).toBe('a,b,c\n')
  expect(execFileSync(path.join(nm, 'pkg-a', 'bin', 'cli.js'), { encoding: 'utf8' })).toBe('pkg-a cli\n')
  for (const fixture of FIXTURES) {
    for (const [name, file] of Object.entries(fixture.files)) {
      expect(fs.readFileSync(path.join(nm, fixture.manifest.name, name), 'utf8')).toBe(file.body)
    }
  }

  // The same by hand: `cas import <key> <dir>`, with the key as `cas verify --json` prints it (a JSON "\t").
  const c = byName.get('pkg-c')!
  const restored = path.join(dir, 'restored', 'pkg-c')
  const keyAsPrinted = c.key.replace('\t', '\\t')
  const run = await runCas(['import', keyAsPrinted, restored, '--store', storeDir, '--method', 'copy', '--json'])
  expect(run.stderr).toBe('')
  expect(run.code).toBe(0)
  expect(JSON.parse(run.stdout)).toMatchObject({ key: c.key, dir: restored, method: 'copy', imported: true, files: 3 })
  expect(fs.readFileSync(path.join(restored, 'lib', 'deep', 'deep.js'), 'utf8')).toBe('module.exports = "c"\n')
  const again = await runCas(['import', c.key, restored, '--store', storeDir])
  expect(again).toMatchObject({ code: 0 })
  expect(again.stdout).toMatch(/already holds .*pkg-c.*complete; kept it/)
}, 120_000)

it('cas import: exit 1 naming the files the store lacks, exit 1 for an unknown key, exit 2 for bad usage', async () => {
  const dir = tempDir()
  const storeDir = path.join(dir, 'store')
  await runPnpm(['install', '--offline', '--store-dir', storeDir], writeFileProject(dir), dir)
  const store = await openStore(storeDir)
  let found: { key: string, index: PackageIndex } | undefined
  for await (const { key, index } of store.listPackageIndexes()) if ((index!.manifest as { name: string }).name === 'pkg-c') found = { key, index: index! }
  const deep = found!.index.files.get('lib/deep/deep.js')!
  fs.unlinkSync(store.filePathFor(deep.digest, deep.mode))
  await store.close()

  const target = path.join(dir, 'out', 'pkg-c')
  const missing = await runCas(['import', found!.key, target, '--store', storeDir])
  expect(missing.code).toBe(1)
  expect(missing.stderr).toMatch(/ERR_CAS_MISSING_CONTENT/)
  expect(missing.stderr).toContain('"lib/deep/deep.js"')
  expect(fs.existsSync(path.join(dir, 'out'))).toBe(false) // checked before anything was made

  const unknown = await runCas(['import', 'sha512-AAAA\tnope@1.0.0', target, '--store', storeDir])
  expect(unknown.code).toBe(1)
  expect(unknown.stderr).toMatch(/no package nope@1\.0\.0/)
  const bad = await runCas(['import', found!.key, target, '--store', storeDir, '--method', 'symlink'])
  expect(bad.code).toBe(2)
  expect(bad.stderr).toMatch(/--method "symlink" is not one of/)
  expect((await runCas(['import', found!.key, '--store', storeDir])).code).toBe(2)
}, 120_000)
