import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { openStore } from '../../lib/index.js'
import { runFixture } from '../helpers/child.js'
import { sha512Hex } from '../helpers/content.js'
import { tempDir } from '../helpers/tmp.js'
import { requireTool } from '../helpers/tools.js'

function makePackage (): string {
  const pkg = tempDir('cas-pkg-')
  fs.mkdirSync(path.join(pkg, 'lib', 'deep'), { recursive: true })
  fs.mkdirSync(path.join(pkg, 'bin'))
  fs.writeFileSync(path.join(pkg, 'package.json'), '{"name":"p","version":"1.0.0"}')
  fs.writeFileSync(path.join(pkg, 'lib', 'a.js'), 'module.exports = 1\n')
  fs.writeFileSync(path.join(pkg, 'lib', 'deep', 'b.js'), 'module.exports = 2\n')
  fs.writeFileSync(path.join(pkg, 'bin', 'cli'), '#!/usr/bin/env node\n', { mode: 0o755 })
  fs.chmodSync(path.join(pkg, 'bin', 'cli'), 0o755)
  fs.writeFileSync(path.join(pkg, 'big.bin'), Buffer.alloc(2 * 1024 * 1024, 3))
  return pkg
}

describe('addFilesFromDir', () => {
  it('adds every regular file with its mode and returns the index', async () => {
    const store = await openStore(tempDir())
    const pkg = makePackage()
    const index = await store.addFilesFromDir(pkg)
    expect([...index.files.keys()].sort()).toEqual(['big.bin', 'bin/cli', 'lib/a.js', 'lib/deep/b.js', 'package.json'])
    const cli = index.files.get('bin/cli')!
    expect(cli.mode & 0o111).not.toBe(0)
    expect(fs.existsSync(store.filePathFor(cli.digest, cli.mode))).toBe(true)
    expect(store.filePathFor(cli.digest, cli.mode).endsWith('-exec')).toBe(true)
    const a = index.files.get('lib/a.js')!
    expect(a).toMatchObject({ digest: sha512Hex('module.exports = 1\n'), size: 19 })
    expect(index.files.get('big.bin')!.size).toBe(2 * 1024 * 1024)
    expect(await store.checkPkgFilesIntegrity(index)).toMatchObject({ passed: true })
    await store.close()
  })

  it('follows symlinks that stay inside the package, skips those that leave it, and ends link cycles', async () => {
    const store = await openStore(tempDir())
    const pkg = makePackage()
    const outside = path.join(tempDir('cas-outside-'), 'secret.txt')
    fs.writeFileSync(outside, 'do not take me')
    fs.symlinkSync(outside, path.join(pkg, 'escape.txt'))
    fs.symlinkSync('/etc', path.join(pkg, 'etc'))
    fs.symlinkSync('lib/a.js', path.join(pkg, 'alias.js'))
    fs.symlinkSync('..', path.join(pkg, 'lib', 'loop'))
    fs.symlinkSync('missing', path.join(pkg, 'dangling'))
    const index = await store.addFilesFromDir(pkg)
    const names = [...index.files.keys()]
    expect(names).toContain('alias.js')
    expect(index.files.get('alias.js')!.digest).toBe(index.files.get('lib/a.js')!.digest)
    expect(names).not.toContain('escape.txt')
    expect(names.some(n => n.startsWith('etc/'))).toBe(false)
    expect(names.some(n => n.includes('loop/'))).toBe(false)
    expect(names).not.toContain('dangling')
    await store.close()
  })

  it('indexes a directory under every name a sibling link gives it', async () => {
    const store = await openStore(tempDir())
    const pkg = tempDir('cas-pkg-')
    fs.mkdirSync(path.join(pkg, 'b'))
    fs.writeFileSync(path.join(pkg, 'b', 'real.js'), 'real')
    fs.symlinkSync('b', path.join(pkg, 'a'))
    const index = await store.addFilesFromDir(pkg)
    expect([...index.files.keys()].sort()).toEqual(['a/real.js', 'b/real.js'])
    await store.close()
  })

  it('rejects a path that is not a directory', async () => {
    const store = await openStore(tempDir())
    await expect(store.addFilesFromDir(path.join(os.tmpdir(), 'does-not-exist-cas'))).rejects.toMatchObject({ code: 'ERR_CAS_INVALID_ARGUMENT' })
    const file = path.join(tempDir(), 'f')
    fs.writeFileSync(file, 'x')
    await expect(store.addFilesFromDir(file)).rejects.toMatchObject({ code: 'ERR_CAS_INVALID_ARGUMENT' })
    await store.close()
  })

  it('fails with ERR_CAS_FILE_ACCESS naming an unreadable file (EACCES)', async () => {
    const dir = tempDir()
    const pkg = makePackage()
    fs.chmodSync(path.join(pkg, 'lib', 'a.js'), 0o000)
    // Root reads anything: when we are root, the child runs as root without the capabilities that bypass file
    // permissions (setpriv drops them from its bounding set), so a mode-000 file really is unreadable to it.
    const wrapper = process.getuid?.() === 0 ? ['setpriv', '--bounding-set', '-dac_override,-dac_read_search'] : []
    if (wrapper.length > 0) requireTool('setpriv', 'util-linux', [...wrapper.slice(1), 'true'], 'root must drop its file-permission bypass')
    const child = runFixture('addDir.ts', [dir, pkg], {}, wrapper)
    const report = JSON.parse(await child.line(l => l.startsWith('{')))
    expect(report).toMatchObject({ code: 'ERR_CAS_FILE_ACCESS', path: path.join(fs.realpathSync(pkg), 'lib', 'a.js') })
    expect(report.message).toMatch(/EACCES.*permissions/)
  })
})
