import crypto from 'node:crypto'
import fs from 'node:fs'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { openStore, packageIndexKey, v10IndexFile } from '../../lib/index.js'
import { FIXTURES, packFixture, sriOf } from '../helpers/pnpm.js'
import { tempDir } from '../helpers/tmp.js'

/**
 * Writes a pnpm 10 store by hand from the documented format: content files under files/, one JSON index per
 * package under index/<2 hex>/<62 hex>-<pkgId>.json. Returns each package's key and expected files.
 */
type V10Entry = { key: string, file: string, files: Map<string, { digest: string, mode: number, size: number }> }
function writeV10Store (root: string): V10Entry[] {
  const made = []
  for (const fixture of FIXTURES) {
    const all: Record<string, { body: string, mode?: number }> = { 'package.json': { body: JSON.stringify(fixture.manifest) }, ...fixture.files }
    const files = new Map<string, { digest: string, mode: number, size: number }>()
    const json: Record<string, unknown> = {}
    for (const [name, { body, mode = 0o644 }] of Object.entries(all)) {
      const bytes = Buffer.from(body)
      const digest = crypto.createHash('sha512').update(bytes).digest('hex')
      const target = path.join(root, 'files', digest.slice(0, 2), digest.slice(2) + (mode & 0o111 ? '-exec' : ''))
      fs.mkdirSync(path.dirname(target), { recursive: true })
      fs.writeFileSync(target, bytes, { mode })
      const checkedAt = fs.statSync(target).mtimeMs
      files.set(name, { digest, mode, size: bytes.length })
      json[name] = { checkedAt, integrity: sriOf(bytes), mode, size: bytes.length }
    }
    // pkgIds with characters pnpm 10 replaces by '+' in file names.
    const pkgId = `registry.example:4873/${fixture.manifest.name}@${fixture.manifest.version}`
    const key = packageIndexKey(packFixture(fixture).integrity, pkgId)
    const file = v10IndexFile(packFixture(fixture).integrity, pkgId)
    fs.mkdirSync(path.dirname(path.join(root, file)), { recursive: true })
    fs.writeFileSync(path.join(root, file), JSON.stringify({
      name: fixture.manifest.name, version: fixture.manifest.version, requiresBuild: false, files: json,
    }))
    made.push({ key, file, files })
  }
  return made
}

describe('v10 (pnpm 10) JSON package indexes', () => {
  it('names index files as pnpm 10 does', () => {
    const integrity = sriOf(Buffer.from('x'))
    const hex = Buffer.from(integrity.slice(7), 'base64').toString('hex')
    expect(v10IndexFile(integrity, 'https://r.example/a:b*c?d"e<f>g|h\\i@1.0.0'))
      .toBe(`index/${hex.slice(0, 2)}/${hex.slice(2, 64)}-https+++r.example+a+b+c+d+e+f+g+h+i@1.0.0.json`)
  })

  it('reads back every package of a v10 store with the same files, and each verifies', async () => {
    const root = path.join(tempDir(), 'store', 'v10')
    const made = writeV10Store(root)
    const store = await openStore(root)
    expect(store.root).toBe(root)
    expect(store.format).toBe('v10')
    const listed = new Map<string, unknown>()
    for await (const { key, index, error } of store.listPackageIndexes()) {
      expect(error).toBeUndefined()
      listed.set(key, index)
    }
    expect([...listed.keys()].sort()).toEqual(made.map(m => m.file).sort())
    for (const { key, file, files } of made) {
      const index = listed.get(file) as Awaited<ReturnType<typeof store.readPackageIndex>>
      const entries = new Map([...index!.files].map(([n, i]) => [n, { digest: i.digest, mode: i.mode, size: i.size }]))
      expect(entries).toEqual(files)
      // Both key forms find it: the listing's file path and the full "<integrity>\t<pkgId>" key.
      expect(await store.readPackageIndex(key)).toEqual(index)
      expect(await store.readPackageIndex(file)).toEqual(index)
      expect(await store.checkPkgFilesIntegrity(index!)).toMatchObject({ passed: true })
    }
    await store.close()
  })

  it('reports a truncated or malformed index file by itself and lists the rest', async () => {
    const root = path.join(tempDir(), 'v10')
    const made = writeV10Store(root)
    const truncated = path.join(root, made[0]!.file)
    fs.writeFileSync(truncated, fs.readFileSync(truncated, 'utf8').slice(0, 40))
    const badEntry = path.join(root, made[1]!.file)
    fs.writeFileSync(badEntry, JSON.stringify({ files: { 'a.js': { integrity: 'sha1-nope', mode: 420, size: 1 } } }))
    const store = await openStore(root)
    const seen: Record<string, string | undefined> = {}
    for await (const { key, error } of store.listPackageIndexes()) seen[key] = error?.code
    expect(seen).toEqual({
      [made[0]!.file]: 'ERR_CAS_INDEX_CORRUPT', [made[1]!.file]: 'ERR_CAS_INDEX_CORRUPT', [made[2]!.file]: undefined,
    })
    await expect(store.readPackageIndex(made[0]!.key)).rejects.toThrow(truncated)
    await store.close()
  })

  it('refuses writes (v10 is read-only) but deletes', async () => {
    const root = path.join(tempDir(), 'v10')
    const made = writeV10Store(root)
    const store = await openStore(root)
    await expect(store.writePackageIndex(made[0]!.key, { algo: 'sha512', files: new Map() }))
      .rejects.toMatchObject({ code: 'ERR_CAS_INDEX_READ_ONLY' })
    expect(await store.deletePackageIndex(made[0]!.key)).toBe(true)
    expect(await store.readPackageIndex(made[0]!.key)).toBeUndefined()
    expect(await store.deletePackageIndex(made[0]!.file)).toBe(false)
    await expect(store.readPackageIndex('index/../../etc/passwd.json')).rejects.toMatchObject({ code: 'ERR_CAS_INVALID_ARGUMENT' })
    await store.close()
  })

  it('wraps a file system failure on an index as ERR_CAS_FILE_ACCESS naming the file, as index.db does', async () => {
    const root = path.join(tempDir(), 'v10')
    const made = writeV10Store(root)
    const file = path.join(root, made[0]!.file)
    fs.rmSync(file)
    fs.mkdirSync(file) // reading it fails with EISDIR: neither missing nor corrupt
    const store = await openStore(root)
    await expect(store.readPackageIndex(made[0]!.key)).rejects.toMatchObject({ code: 'ERR_CAS_FILE_ACCESS', path: file })
    await store.close()
  })
})
