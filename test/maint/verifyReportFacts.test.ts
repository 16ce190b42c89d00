// Facts verifyStore carries for its reports (the CLI words them): progress inside a package, how many files the
// fast check trusted, and what a corrupt file looked like when found (its links, when it changed).
import fs from 'node:fs'
import path from 'node:path'
import { expect, it } from 'vitest'
import { openStore, packageIndexKey, type PackageIndex, type VerifyProgress } from '../../lib/index.js'
import { tempDir } from '../helpers/tmp.js'

async function onePackage (files: number): Promise<{ dir: string, index: PackageIndex }> {
  const dir = tempDir()
  const store = await openStore(dir)
  const index: PackageIndex = { algo: 'sha512', files: new Map() }
  for (let i = 0; i < files; i++) {
    const added = await store.ensureFile(Buffer.from(`file ${i}\n`), { mode: 0o644 })
    index.files.set(`f${i}.txt`, { digest: added.digest, mode: 0o644, size: added.size, checkedAt: added.checkedAt })
  }
  await store.writePackageIndex(packageIndexKey('sha512-AAAA', 'big@1.0.0'), index)
  await store.close()
  return { dir, index }
}

it('reports progress file by file inside one big package, not only when the package is done', async () => {
  const { dir } = await onePackage(300)
  const store = await openStore(dir)
  const seen: VerifyProgress[] = []
  await store.verifyStore({ onProgress: p => seen.push({ ...p }) })
  await store.close()
  const within = seen.filter(p => p.packagesDone === 0)
  expect(within.length).toBeGreaterThanOrEqual(300)
  expect(within.map(p => p.filesChecked)).toEqual(Array.from({ length: within.length }, (_, i) => i + 1))
  expect(seen.at(-1)).toEqual({ packagesDone: 1, packagesTotal: 1, filesChecked: 300 })
})

it('counts the files the fast check trusted by mtime (none with full)', async () => {
  const { dir } = await onePackage(5)
  const store = await openStore(dir)
  expect(await store.verifyStore()).toMatchObject({ filesChecked: 5, filesTrusted: 5 })
  expect(await store.verifyStore({ full: true })).toMatchObject({ filesChecked: 5, filesTrusted: 0 })
  await store.close()
})

it('records a corrupt file\'s hard link count and change time as found, before --fix removes it', async () => {
  const { dir, index } = await onePackage(2)
  const store = await openStore(dir)
  const info = index.files.get('f0.txt')!
  const target = store.filePathFor(info.digest, info.mode)
  const project = path.join(tempDir(), 'linked.txt')
  fs.linkSync(target, project) // as pnpm links it into a project
  fs.writeFileSync(project, 'EDITED!\n') // and someone edits it there
  const before = Date.now()
  const report = await store.verifyStore({ fix: true, graceMs: 0 })
  await store.close()
  expect(report.problems).toHaveLength(1)
  const [problem] = report.problems
  expect(problem).toMatchObject({ file: 'f0.txt', problem: 'corrupt', action: 'removed', links: 2 })
  expect(problem!.changedAt).toBeGreaterThan(before - 5_000)
  expect(fs.readFileSync(project, 'utf8')).toBe('EDITED!\n') // the project keeps its copy: why pnpm needs a fresh node_modules
})

it('names an executable file\'s problem by its real content path (with -exec), missing or corrupt', async () => {
  const dir = tempDir()
  const store = await openStore(dir)
  const index: PackageIndex = { algo: 'sha512', files: new Map() }
  for (const [name, body] of [['bin/gone.js', 'gone\n'], ['bin/bad.js', 'bad\n']] as const) {
    const added = await store.ensureFile(Buffer.from(body), { mode: 0o755 })
    index.files.set(name, { digest: added.digest, mode: 0o755, size: added.size, checkedAt: added.checkedAt })
  }
  await store.writePackageIndex(packageIndexKey('sha512-AAAA', 'bins@1.0.0'), index)
  const pathOf = (name: string): string => store.filePathFor(index.files.get(name)!.digest, 0o755)
  fs.rmSync(pathOf('bin/gone.js'))
  fs.writeFileSync(pathOf('bin/bad.js'), 'BAD\n')
  const report = await store.verifyStore({ full: true })
  await store.close()
  expect(report.problems.map(p => [p.file, p.problem, p.path])).toEqual([
    ['bin/bad.js', 'corrupt', pathOf('bin/bad.js')],
    ['bin/gone.js', 'missing', pathOf('bin/gone.js')],
  ])
  expect(report.problems.every(p => p.path.endsWith('-exec'))).toBe(true)
  expect(report.orphans).toEqual({ count: 0, bytes: 0 }) // the corrupt file kept is its package's, not an orphan
})
