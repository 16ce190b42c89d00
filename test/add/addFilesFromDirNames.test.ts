// What addFilesFromDir does with the names a folder can really hold: names that start with two dots (and links to
// them), names no package index can carry (a backslash, a drive letter, bytes that are not UTF-8), and a sparse
// file past the byte limit. From a second read of the folder walk.
import { execFileSync } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { openStore } from '../../lib/index.js'
import { tempDir } from '../helpers/tmp.js'

function basePackage (): string {
  const pkg = tempDir('cas-pkg-')
  fs.writeFileSync(path.join(pkg, 'package.json'), '{"name":"p","version":"1.0.0"}')
  return pkg
}

type Limits = Parameters<Awaited<ReturnType<typeof openStore>>['addFilesFromDir']>[1]

async function addIn (pkg: string, options?: Limits): Promise<unknown> {
  const store = await openStore(tempDir(), { threads: 0 })
  try {
    return await store.addFilesFromDir(pkg, options)
      .then(index => [...index.files.keys()].sort(), (err: unknown) => err)
  } finally {
    await store.close()
  }
}

describe('addFilesFromDir: names', () => {
  it('follows links to targets inside the folder whose names start with ".." (a Kubernetes ConfigMap volume)', async () => {
    const pkg = basePackage()
    fs.mkdirSync(path.join(pkg, '..2024_01_01'))
    fs.writeFileSync(path.join(pkg, '..2024_01_01', 'config.json'), '{}')
    fs.writeFileSync(path.join(pkg, '..hidden.js'), 'x')
    fs.symlinkSync('..2024_01_01', path.join(pkg, '..data'))
    fs.symlinkSync('..data/config.json', path.join(pkg, 'config.json'))
    fs.symlinkSync('..hidden.js', path.join(pkg, 'alias.js'))
    fs.symlinkSync('..', path.join(pkg, 'up')) // the folder's parent: outside
    expect(await addIn(pkg)).toEqual(['..2024_01_01/config.json', '..data/config.json', '..hidden.js', 'alias.js', 'config.json', 'package.json'])
  })

  it.each([['a\\b.js'], ['c:x']])('refuses a folder holding %j (a path on Windows) with ERR_CAS_UNSAFE_PATH', async name => {
    const pkg = basePackage()
    fs.mkdirSync(path.join(pkg, 'lib'))
    fs.writeFileSync(path.join(pkg, name), 'x') // a legal name on Linux
    expect(await addIn(pkg)).toMatchObject({ code: 'ERR_CAS_UNSAFE_PATH', entry: name, message: expect.stringContaining('Rename the file') })
  })

  it('refuses a name whose bytes are not UTF-8 (it would be indexed as another name), even beside that other name', async () => {
    const pkg = basePackage()
    const latin1 = Buffer.concat([Buffer.from(pkg + '/caf'), Buffer.from([0xe9]), Buffer.from('.js')])
    fs.writeFileSync(latin1, 'latin-1 name')
    expect(await addIn(pkg)).toMatchObject({ code: 'ERR_CAS_UNSAFE_PATH', entry: 'caf\uFFFD.js', message: expect.stringContaining('not UTF-8') })
    fs.writeFileSync(path.join(pkg, 'caf\uFFFD.js'), 'a real U+FFFD')
    expect(await addIn(pkg)).toMatchObject({ code: 'ERR_CAS_UNSAFE_PATH', entry: 'caf\uFFFD.js' })
    fs.rmSync(latin1)
    expect(await addIn(pkg)).toEqual(['caf\uFFFD.js', 'package.json']) // a real U+FFFD is a name like any other
  })
})

describe('addFilesFromDir: a name that is not UTF-8 refuses the folder only where it would be indexed', () => {
  const latin1 = (dir: string, name: string): Buffer => Buffer.concat([Buffer.from(dir + '/'), Buffer.from(name, 'latin1')])

  it('a link leaving the folder, a dangling link and a FIFO so named are skipped, as any such entry is', async () => {
    const pkg = basePackage()
    fs.symlinkSync('/etc/hostname', latin1(pkg, 'caf\xe9-link'))
    fs.symlinkSync('nowhere', latin1(pkg, 'r\xe9sum\xe9'))
    execFileSync('python3', ['-c', 'import os, sys; os.mkfifo(os.fsencode(sys.argv[1]) + bytes([0xe9]))', path.join(pkg, 'pip')])
    expect(await addIn(pkg)).toEqual(['package.json'])
  })

  it('a link so named to a file inside is refused (it would be indexed under another name)', async () => {
    const pkg = basePackage()
    fs.writeFileSync(path.join(pkg, 'index.js'), 'x')
    fs.symlinkSync('index.js', latin1(pkg, 'alias\xe9.js'))
    expect(await addIn(pkg)).toMatchObject({ code: 'ERR_CAS_UNSAFE_PATH', entry: 'alias\uFFFD.js' })
  })
})

describe('addFilesFromDir: maxUnpackedBytes', () => {
  it('refuses a folder whose files add up to more (a sparse file at its full size) with ERR_CAS_TOO_LARGE', async () => {
    const pkg = basePackage()
    const sparse = path.join(pkg, 'sparse.bin')
    fs.writeFileSync(sparse, '')
    fs.truncateSync(sparse, 64 * 1024 * 1024) // 64 MiB apparent, no blocks
    expect(await addIn(pkg, { maxUnpackedBytes: 1024 * 1024 })).toMatchObject({ code: 'ERR_CAS_TOO_LARGE', limit: 1024 * 1024 })
    const exact = fs.statSync(sparse).size + fs.statSync(path.join(pkg, 'package.json')).size
    expect(await addIn(pkg, { maxUnpackedBytes: exact })).toEqual(['package.json', 'sparse.bin']) // at the limit: in
    expect(await addIn(pkg, { maxUnpackedBytes: exact - 1 })).toMatchObject({ code: 'ERR_CAS_TOO_LARGE' })
  })
})
