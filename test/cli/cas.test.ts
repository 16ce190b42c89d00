import fs from 'node:fs'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { openStore, type PackageIndex } from '../../lib/index.js'
import { runCas } from '../helpers/cas.js'
import { FIXTURES, packFixture, runPnpm, writeFileProject } from '../helpers/pnpm.js'
import { tempDir } from '../helpers/tmp.js'

const COMMANDS = ['verify', 'add', 'cat', 'stat', 'prune']

describe('cas: usage', () => {
  it('has help for the tool and for every command', async () => {
    const top = await runCas(['--help'])
    expect(top.code).toBe(0)
    for (const name of COMMANDS) expect(top.stdout).toContain(`  ${name} `)
    for (const name of COMMANDS) {
      const help = await runCas([name, '--help'])
      expect(help.code).toBe(0)
      expect(help.stdout).toContain(`Usage: cas ${name}`)
      expect(help.stdout).toContain('--store DIR')
    }
  })

  it.each([
    [['frobnicate'], 'unknown command "frobnicate"'],
    [['verify', '--fixx'], "Unknown option '--fixx'"],
    [['verify', '--jobs', 'many'], '--jobs many is not a positive whole number'],
    [['verify', '--grace', 'soon'], '--grace "soon" is not a duration'],
    [['prune', '--grace'], "Option '--grace <value>' argument missing"],
    [['cat'], 'name exactly one digest'],
    [['cat', 'abc'], 'Not a sha512 digest'],
  ])('%j is a usage error: exit 2, says what is wrong and where help is', async (args, message) => {
    const run = await runCas(args)
    expect(run.code).toBe(2)
    expect(run.stderr).toContain(message)
    expect(run.stderr).toContain('--help')
  })

  it('without --store uses pnpm\'s store for this machine, and says how to point elsewhere when there is none', async () => {
    const home = tempDir()
    const none = await runCas(['verify'], { HOME: home })
    expect(none.code).toBe(2)
    expect(none.stderr).toContain(path.join(home, '.local', 'share', 'pnpm', 'store'))
    expect(none.stderr).toContain('--store DIR')
    const pnpmHome = tempDir()
    await (await openStore(path.join(pnpmHome, 'store'))).close()
    const found = await runCas(['verify', '--json'], { HOME: home, PNPM_HOME: pnpmHome })
    expect(found.code).toBe(0)
    expect(JSON.parse(found.stdout)).toMatchObject({ root: path.join(pnpmHome, 'store', 'v11'), healthy: true })
  })
})

describe('cas verify on a real pnpm 12 store', () => {
  it('healthy: exit 0; two corrupted files: exit 1 naming them; --fix: exit 0; pnpm install then restores the packages', async () => {
    const dir = tempDir()
    const storeDir = path.join(dir, 'store')
    const project = writeFileProject(dir)
    await runPnpm(['install', '--offline', '--store-dir', storeDir], project, dir)

    const healthy = await runCas(['verify', '--store', storeDir])
    expect(healthy).toMatchObject({ code: 0, stderr: '' }) // not a terminal: no progress output
    expect(healthy.stdout).toContain('Checked 3 packages')
    expect(healthy.stdout).toContain('Healthy.')

    const store = await openStore(storeDir)
    const byName = new Map<string, { key: string, index: PackageIndex }>()
    for await (const { key, index } of store.listPackageIndexes()) {
      byName.set((index!.manifest as { name: string }).name, { key, index: index! })
    }
    await store.close()
    const damaged = [['pkg-a', 'bin/cli.js'], ['pkg-c', 'lib/deep/deep.js']] as const
    for (const [pkg, file] of damaged) {
      const info = byName.get(pkg)!.index.files.get(file)!
      const target = store.filePathFor(info.digest, info.mode)
      fs.writeFileSync(target, Buffer.alloc(info.size, '?'))
      fs.utimesSync(target, new Date(info.checkedAt! + 60_000), new Date(info.checkedAt! + 60_000))
    }

    const found = await runCas(['verify', '--store', storeDir, '--json'])
    expect(found.code).toBe(1)
    const report = JSON.parse(found.stdout) as { problems: Array<Record<string, unknown>>, healthy: boolean }
    expect(report.healthy).toBe(false)
    expect(report.problems.map(p => [p.key, p.file, p.problem, p.action]).sort()).toEqual(damaged.map(([pkg, file]) => [byName.get(pkg)!.key, file, 'corrupt', 'none']).sort())
    for (const p of report.problems) {
      const info = [...byName.values()].find(b => b.key === p.key)!.index.files.get(p.file as string)!
      expect(p).toMatchObject({ digest: info.digest, path: store.filePathFor(info.digest, info.mode) })
    }
    const text = await runCas(['verify', '--store', storeDir])
    expect(text.code).toBe(1)
    expect(text.stdout).toContain('bin/cli.js  corrupt')
    expect(text.stdout).toContain('lib/deep/deep.js  corrupt')
    expect(text.stdout).toContain('cas verify --fix')

    // The corruption was written a moment ago, so the default grace period protects it: nothing is removed.
    const young = await runCas(['verify', '--store', storeDir, '--fix', '--json'])
    expect(young.code).toBe(1)
    expect((JSON.parse(young.stdout) as { problems: Array<{ action: string }> }).problems.map(p => p.action)).toEqual(['kept: younger than grace', 'kept: younger than grace'])

    const fixed = await runCas(['verify', '--store', storeDir, '--fix', '--grace', '0', '--json'])
    expect(fixed.code).toBe(0)
    type FixReport = { problems: Array<{ action: string, indexDeleted: boolean }>, deletedIndexes: string[] }
    const fixReport = JSON.parse(fixed.stdout) as FixReport
    expect(fixReport.problems.every(p => p.action === 'removed' && p.indexDeleted)).toBe(true)
    expect(fixReport.deletedIndexes.sort()).toEqual([byName.get('pkg-a')!.key, byName.get('pkg-c')!.key].sort())
    expect((await runCas(['verify', '--store', storeDir])).code).toBe(0)

    // The next install fetches the two packages again (from their tarballs) and the store is whole.
    const again = path.join(dir, 'again')
    fs.cpSync(project, again, { recursive: true, filter: src => !src.includes('node_modules') })
    await runPnpm(['install', '--offline', '--store-dir', storeDir], again, dir)
    for (const [pkg, file] of damaged) {
      const fixture = FIXTURES.find(f => f.manifest.name === pkg)!
      expect(fs.readFileSync(path.join(again, 'node_modules', pkg, file), 'utf8')).toBe(fixture.files[file]!.body)
    }
    const after = await runCas(['verify', '--store', storeDir, '--full', '--json'])
    expect(after.code).toBe(0)
    expect(JSON.parse(after.stdout)).toMatchObject({ packagesChecked: 3, problems: [] })
  })
})

describe('cas add, cat, stat, prune', () => {
  it('adds a folder and a tarball, cats content back verified, counts the store, prunes what nothing uses', async () => {
    const dir = tempDir()
    const storeDir = path.join(dir, 'store')
    const folder = path.join(dir, 'folder')
    fs.mkdirSync(folder)
    fs.writeFileSync(path.join(folder, 'loose.txt'), 'not in any package\n')
    const tgz = path.join(dir, 'pkg-a.tgz')
    const { tgz: bytes, integrity } = packFixture(FIXTURES[0]!)
    fs.writeFileSync(tgz, bytes)

    const added = await runCas(['add', folder, tgz, '--store', storeDir, '--json'])
    expect(added.code).toBe(0)
    type Added = { key?: string, files: Array<{ name: string, digest: string }> }
    const out = JSON.parse(added.stdout) as { added: Added[] }
    expect(out.added[0]!.files.map(f => f.name)).toEqual(['loose.txt'])
    expect(out.added[1]!.key).toBe(`${integrity}\tpkg-a@1.0.0`)
    const cli = out.added[1]!.files.find(f => f.name === 'bin/cli.js')!

    const cat = await runCas(['cat', cli.digest, '--store', storeDir])
    expect(cat).toMatchObject({ code: 0, stdout: FIXTURES[0]!.files['bin/cli.js']!.body })
    const looseDigest = out.added[0]!.files[0]!.digest
    fs.writeFileSync(path.join(storeDir, 'v11', 'files', looseDigest.slice(0, 2), looseDigest.slice(2)), 'tampered!!!!!!!!!!!\n')
    const bad = await runCas(['cat', looseDigest, '--store', storeDir])
    expect(bad.code).toBe(1)
    expect(bad.stdout).toBe('') // checked before a byte is written
    expect(bad.stderr).toContain('cas verify --fix')

    const stat = await runCas(['stat', '--store', storeDir, '--json'])
    expect(JSON.parse(stat.stdout)).toMatchObject({ files: 5, packages: 1, references: 4, orphans: 1 })

    const dry = await runCas(['prune', '--store', storeDir, '--grace', '0', '--dry-run'])
    expect(dry.stdout).toContain('Would remove 1 unreferenced content files')
    const pruned = await runCas(['prune', '--store', storeDir, '--grace', '0', '--json'])
    expect(JSON.parse(pruned.stdout)).toMatchObject({ removed: { count: 1 }, referenced: 4 })
    expect((await runCas(['verify', '--store', storeDir, '--full'])).code).toBe(0)
  })

  it('refuses --key with anything but one tarball, and a tarball without name and version unless keyed', async () => {
    const dir = tempDir()
    expect((await runCas(['add', dir, '--key', 'x', '--store', path.join(dir, 's')])).code).toBe(2)
    const tgz = path.join(dir, 'nameless.tgz')
    fs.writeFileSync(tgz, packFixture({ manifest: { name: '', version: '' } as never, files: { 'a.js': { body: '1' } } }).tgz)
    const run = await runCas(['add', tgz, '--store', path.join(dir, 's')])
    expect(run.code).toBe(2)
    expect(run.stderr).toContain('pass --key')
  })
})
