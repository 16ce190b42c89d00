import { execFileSync, spawn } from 'node:child_process'
import { once } from 'node:events'
import fs from 'node:fs'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { openStore, type FileInfo, type PackageIndex } from '../../lib/index.js'
import { gate } from '../helpers/gate.js'
import { expectWhole, packageEntries, storePackage, strayEntries, storeAndNodeModules } from '../helpers/importPkg.js'
import type { TarEntry } from '../helpers/tarball.js'
import { tempDir } from '../helpers/tmp.js'

/*
 * Whether a target already holds the package is decided by one witness file, by its bytes: package.json, else
 * the first file. These tests set up what a user finds in node_modules (another version's folder, a half-filled
 * one, a file in the folder's place) and check what the import keeps or replaces.
 */

const setup = storeAndNodeModules

function withFiles (index: PackageIndex, files: Array<[string, FileInfo]>): PackageIndex {
  return { ...index, files: new Map(files) }
}

const copy = { method: 'copy' } as const

describe('complete target', () => {
  it('package.json is the witness wherever it is listed: another version\'s package.json means replace', async () => {
    const { storeDir, nm, index } = await setup()
    // The manifest listed last: the first file alone would call the folder complete.
    const files = [...index.files].filter(([name]) => name !== 'package.json')
    const reordered = withFiles(index, [...files, ['package.json', index.files.get('package.json')!]])
    expect(reordered.files.keys().next().value).not.toBe('package.json')
    const store = await openStore(storeDir)
    const target = path.join(nm, 'p')
    await store.importPackage(reordered, target, copy)
    const manifest = path.join(target, 'package.json')
    const other = JSON.stringify({ name: 'p', version: '0.9.0' })
    fs.writeFileSync(manifest, other)
    expect(await store.importPackage(reordered, target, copy)).toEqual({ method: 'copy', imported: true })
    expect(fs.readFileSync(manifest, 'utf8')).not.toBe(other)
    expect(strayEntries(nm)).toEqual(['p'])
    await store.close()
  })

  it('a package without package.json is witnessed by its first file: kept when it matches, replaced when not', async () => {
    const { storeDir, nm, index } = await setup()
    const files = [...index.files].filter(([name]) => name !== 'package.json')
    const bare = withFiles(index, files)
    const store = await openStore(storeDir)
    const target = path.join(nm, 'p')
    expect((await store.importPackage(bare, target, copy)).imported).toBe(true)
    expect((await store.importPackage(bare, target, copy)).imported).toBe(false)
    const first = path.join(target, files[0]![0])
    fs.writeFileSync(first, Buffer.alloc(fs.statSync(first).size, 'x')) // same size, other bytes
    expect((await store.importPackage(bare, target, copy)).imported).toBe(true)
    expect(fs.readFileSync(first).equals(Buffer.alloc(files[0]![1].size, 'x'))).toBe(false)
    expect(strayEntries(nm)).toEqual(['p'])
    await store.close()
  })

  it('a package without files: its folder is complete once it exists, and a file in its place is replaced', async () => {
    const { storeDir, nm, index } = await setup()
    const empty = withFiles(index, [])
    const store = await openStore(storeDir)
    const target = path.join(nm, 'empty')
    expect(await store.importPackage(empty, target, copy)).toEqual({ method: 'copy', imported: true })
    expect(fs.readdirSync(target)).toEqual([])
    expect((await store.importPackage(empty, target, copy)).imported).toBe(false)
    fs.rmdirSync(target)
    fs.writeFileSync(target, 'a file where the folder goes')
    expect((await store.importPackage(empty, target, copy)).imported).toBe(true)
    expect(fs.statSync(target).isDirectory()).toBe(true)
    expect(strayEntries(nm)).toEqual(['empty'])
    await store.close()
  })

  // Two installs of one project (or two tasks of one installer) import the same package: the one that finishes
  // second must keep the first one's folder, not swap in its own copy under a running program.
  it('an import that finds the target completed by another while it built its own keeps that one', async () => {
    const { storeDir, nm, index } = await setup()
    const staged = gate()
    let calls = 0
    const store = await openStore(storeDir, {
      _hooks: { 'import:staged': async () => { if (calls++ === 0) await staged.wait() } },
    })
    const target = path.join(nm, 'p')
    const slow = store.importPackage(index, target, copy)
    await staged.reached // verified, its temp folder made, nothing in it yet
    expect(await store.importPackage(index, target, copy)).toEqual({ method: 'copy', imported: true })
    const inode = fs.statSync(path.join(target, 'package.json')).ino
    staged.open()
    expect(await slow).toEqual({ method: 'copy', imported: false })
    expect(fs.statSync(path.join(target, 'package.json')).ino).toBe(inode)
    expectWhole(target, packageEntries('p', 10))
    expect(strayEntries(nm)).toEqual(['p'])
    await store.close()
  })

  // A FIFO at the witness's path (left by some tool, or planted): opening it blocks until someone writes, so the
  // import must judge it by its stat alone. A writer waits on the FIFO with the witness's exact bytes: an import
  // that opened it would read them and keep the folder (instead of hanging, which would also be a failure).
  it.each<[string, TarEntry[]]>([
    ['package.json', packageEntries('p', 3)],
    ['an empty first file', [{ path: 'package/index.d.ts', body: '' }, ...packageEntries('p', 3).slice(1)]],
  ])('a FIFO in place of the witness (%s) is not the package: never opened, the folder is replaced', async (_, entries) => {
    const dir = tempDir()
    const storeDir = path.join(dir, 'store')
    const { index } = await storePackage(storeDir, entries)
    const [name, info] = index.files.has('package.json')
      ? ['package.json', index.files.get('package.json')!]
      : index.files.entries().next().value!
    const nm = path.join(dir, 'node_modules')
    const target = path.join(nm, 'p')
    fs.mkdirSync(target, { recursive: true })
    execFileSync('mkfifo', [path.join(target, name)])
    const bytes = path.join(dir, 'witness')
    const store = await openStore(storeDir)
    fs.copyFileSync(store.filePathFor(info.digest, info.mode), bytes)
    // The writer enters the old folder first, so it never touches the one the import puts in its place.
    const writer = spawn('sh', ['-c', 'cd "$1" && echo ready && exec cat "$2" > "$3"', 'sh', target, bytes, name],
      { stdio: ['ignore', 'pipe', 'inherit'] })
    const exited = once(writer, 'exit')
    await once(writer.stdout, 'data')
    try {
      expect(await store.importPackage(index, target, copy)).toEqual({ method: 'copy', imported: true })
      expect(fs.statSync(path.join(target, name)).isFile()).toBe(true)
      expectWhole(target, entries)
      expect(strayEntries(nm)).toEqual(['p'])
    } finally {
      if (writer.exitCode === null) writer.kill('SIGKILL') // still waiting for a reader: nobody opened the FIFO
      await exited
      await store.close()
    }
  })
})
