import crypto from 'node:crypto'
import fs from 'node:fs'
import path from 'node:path'
import { expect } from 'vitest'
import { openStore, packageIndexKey, type PackageIndex } from '../../lib/index.js'
import { makeTarball, type TarEntry } from './tarball.js'
import { tempDir } from './tmp.js'

/** A package for import tests: `count` files in nested folders, every fifth one executable, plus package.json. */
export function packageEntries (name: string, count: number, size = 200): TarEntry[] {
  const entries: TarEntry[] = [{ path: 'package/package.json', body: JSON.stringify({ name, version: '1.0.0' }) }]
  for (let i = 0; i < count; i++) {
    const hex = crypto.createHash('sha512').update(`${name}:${i}`).digest('hex')
    const body = hex.repeat(Math.ceil(size / 128)).slice(0, size)
    const folder = ['lib', 'lib/deep', 'bin', 'dist/esm', ''][i % 5]!
    const file = `package/${folder === '' ? '' : folder + '/'}f${i}.js`
    entries.push({ path: file, body, mode: i % 5 === 2 ? 0o755 : 0o644 })
  }
  return entries
}

/** Adds the tarball of `entries` to the store at `storeDir` and files its index; returns the key and index. */
export async function storePackage (
  storeDir: string, entries: TarEntry[], pkgId = 'pkg@1.0.0',
): Promise<{ key: string, index: PackageIndex }> {
  const tgz = makeTarball(entries)
  const store = await openStore(storeDir)
  const index = await store.addFilesFromTarball(tgz)
  const key = packageIndexKey('sha512-' + crypto.createHash('sha512').update(tgz).digest('base64'), pkgId)
  await store.writePackageIndex(key, index)
  await store.close()
  return { key, index }
}

/** Asserts `dir` holds exactly the files of `entries` (names, bytes, execute bits). */
export function expectWhole (dir: string, entries: TarEntry[]): void {
  const expected = entries.map(e => e.path.slice('package/'.length)).sort()
  const actual = (fs.readdirSync(dir, { recursive: true, withFileTypes: true }) as fs.Dirent[])
    .filter(d => !d.isDirectory())
    .map(d => path.relative(dir, path.join(d.parentPath, d.name)))
    .sort()
  expect(actual).toEqual(expected)
  for (const entry of entries) {
    const file = path.join(dir, entry.path.slice('package/'.length))
    expect(fs.readFileSync(file).equals(Buffer.from(entry.body ?? ''))).toBe(true)
    expect((fs.statSync(file).mode & 0o111) !== 0).toBe(((entry.mode ?? 0o644) & 0o111) !== 0)
  }
}

/** Entries of `dir` other than `keep`: leftovers (temp folders) an import must not leave. */
export function strayEntries (dir: string, keep: string[] = []): string[] {
  return fs.readdirSync(dir).filter(name => !keep.includes(name))
}

/** A store holding package `p` (10 files) and an empty node_modules beside it, in a fresh temp folder. */
export async function storeAndNodeModules (): Promise<{ storeDir: string, nm: string, index: PackageIndex }> {
  const dir = tempDir()
  const storeDir = path.join(dir, 'store')
  const { index } = await storePackage(storeDir, packageEntries('p', 10))
  const nm = path.join(dir, 'node_modules')
  fs.mkdirSync(nm)
  return { storeDir, nm, index }
}
