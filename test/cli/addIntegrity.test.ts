// `cas add <tarball> --integrity SRI`: the ensurePackage path from the command line (checked while streaming, once
// per store, a line naming the process it waits for).
import { spawn } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { expect, it } from 'vitest'
import { openStore, packageIndexKey } from '../../lib/index.js'
import { packageLockFile } from '../../lib/ensure/packageLock.js'
import { withKeyLock } from '../../lib/lock/keyLock.js'
import { runCas } from '../helpers/cas.js'
import { makePackages } from '../helpers/packages.js'
import { listFiles, tempDir } from '../helpers/tmp.js'

const repoRoot = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', '..')

it('adds a pinned tarball once, refuses wrong bytes with ERR_CAS_INTEGRITY and writes no index then', async () => {
  const [pkg, other] = makePackages(2, 'cli')
  const dir = tempDir()
  const storeDir = path.join(dir, 'store')
  const tgz = path.join(dir, pkg!.file)
  fs.writeFileSync(tgz, pkg!.tgz)
  const key = packageIndexKey(pkg!.integrity, pkg!.pkgId)

  const first = await runCas(['add', tgz, '--integrity', pkg!.integrity, '--store', storeDir, '--json'])
  expect(first.code).toBe(0)
  expect(JSON.parse(first.stdout).added[0]).toMatchObject({ key, fetched: true })
  const again = await runCas(['add', tgz, '--integrity', pkg!.integrity, '--store', storeDir])
  expect(again.stdout).toContain('(already in the store)')

  const wrong = path.join(dir, 'wrong.tgz')
  fs.writeFileSync(wrong, other!.tgz)
  const refused = await runCas(['add', wrong, '--integrity', pkg!.integrity, '--pkg-id', 'x@1.0.0', '--store', storeDir])
  expect(refused.code).toBe(2)
  expect(refused.stderr).toContain('ERR_CAS_INTEGRITY')
  expect(refused.stderr).toContain(pkg!.integrity)
  const store = await openStore(storeDir)
  expect((await store.readPackageIndex(key))?.tarIntegrity).toBe(pkg!.integrity)
  expect(await store.readPackageIndex(packageIndexKey(pkg!.integrity, 'x@1.0.0'))).toBeUndefined()
  expect(listFiles(path.join(store.root, 'locks', 'packages'))).toEqual([])
  await store.close()
  expect((await runCas(['add', tgz, '--integrity', pkg!.integrity, '--key', key, '--store', storeDir])).code).toBe(2)
})

it('says which process it waits for while another holds the package', async () => {
  const [pkg] = makePackages(1, 'cliwait')
  const dir = tempDir()
  const storeDir = path.join(dir, 'store')
  const tgz = path.join(dir, pkg!.file)
  fs.writeFileSync(tgz, pkg!.tgz)
  const store = await openStore(storeDir)
  const key = packageIndexKey(pkg!.integrity, pkg!.pkgId)
  let release!: () => void
  let entered!: () => void
  const inside = new Promise<void>(resolve => { entered = resolve })
  const held = withKeyLock(packageLockFile(store.root, key), key, async () => {
    entered()
    await new Promise<void>(resolve => { release = resolve })
  })
  await inside
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(repoRoot, 'lib', 'cli', 'cas.ts'), 'add', tgz, '--integrity', pkg!.integrity, '--store', storeDir],
    { cwd: repoRoot, stdio: ['ignore', 'pipe', 'pipe'] })
  let stderr = ''
  const said = new Promise<void>(resolve => {
    child.stderr.on('data', chunk => {
      stderr += String(chunk)
      if (stderr.includes('\n')) resolve()
    })
  })
  const exited = new Promise<number | null>(resolve => child.on('exit', resolve))
  await said
  expect(stderr).toContain(`cas add: waiting for ${pkg!.pkgId}: pid ${process.pid} on `)
  release()
  await held
  expect(await exited).toBe(0)
  expect(await store.readPackageIndex(key)).toBeDefined()
  await store.close()
})
