// What `cas verify` promises after it finds damage must be what actually restores it. The case new users meet:
// a file edited through a project's node_modules hard link. pnpm's store copy is the same inode, so the store is
// corrupt, and after `--fix` a plain `pnpm install` keeps the edited file, and so does `pnpm install --force`
// (pnpm 12.4.2): only a fresh node_modules restores it.
import fs from 'node:fs'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { openStore, packageIndexKey } from '../../lib/index.js'
import { runCas } from '../helpers/cas.js'
import { FIXTURES, packFixture, runPnpm, writeFileProject } from '../helpers/pnpm.js'
import { tempDir } from '../helpers/tmp.js'

const EDITED = 'module.exports = "edited in node_modules"\n'
const ORIGINAL = FIXTURES.find(f => f.manifest.name === 'pkg-c')!.files['lib/deep/deep.js']!.body

interface JsonReport {
  problems: Array<{
    key: string,
    file: string,
    problem: string,
    action: string,
    indexDeleted: boolean,
    links?: number,
    otherLinks?: number,
    young?: boolean
  }>
  deletedIndexes: string[]
  deletedPackages: Array<{ key: string, pkgId: string }>
  restore?: { pnpm: string, casStore: string }
  hardLinks?: string
  nextStep?: string
  filesTrusted: number
  filesPerSecond: number
}

describe('cas verify on a file edited through a project\'s hard link', () => {
  it('says why (the link count), suggests --grace while the damage is young, names what it deleted and what restores it', async () => {
    const dir = tempDir()
    const storeDir = path.join(dir, 'store')
    const project = writeFileProject(dir)
    const install = async (...extra: string[]): Promise<void> => {
      await runPnpm(['install', '--offline', '--store-dir', storeDir, '--package-import-method', 'hardlink', ...extra], project, dir)
    }
    await install()
    const installed = path.join(project, 'node_modules', 'pkg-c', 'lib', 'deep', 'deep.js')
    expect(fs.statSync(installed).nlink).toBe(2) // the store's entry and the project's
    fs.writeFileSync(installed, EDITED) // in place: the same inode as the store's copy

    // Without --fix: found; the damage is seconds old, so the advice is about the grace period, not a bare --fix.
    const found = await runCas(['verify', '--store', storeDir])
    expect(found.code).toBe(1)
    expect(found.stdout).toContain('lib/deep/deep.js  corrupt')
    expect(found.stdout).toContain('(1 other hard link: edited through a project?)')
    expect(found.stdout).toContain('1 problem found; it changed within the grace period')
    expect(found.stdout).toContain('may be one it is writing right now')
    expect(found.stdout).toContain('`--grace 0` if no install is using this store')
    expect(found.stdout).toContain('Hard links: 1 corrupt file had other hard links')
    expect(found.stdout).not.toContain('Run `cas verify --fix` to repair them')
    const lines = found.stdout.trimEnd().split('\n')
    expect(lines.at(-1)).toMatch(/^fast check: \d+ files trusted by mtime; --full re-hashes everything$/)
    expect(found.stdout).toMatch(/Checked 3 packages, \d+ content files in \d+ (ms|s) \([\d,]+ files\/s\)\./)

    const foundJson = JSON.parse((await runCas(['verify', '--store', storeDir, '--json'])).stdout) as JsonReport
    expect(foundJson.problems).toMatchObject([{ file: 'lib/deep/deep.js', problem: 'corrupt', links: 2, otherLinks: 1, young: true }])
    expect(foundJson.nextStep).toContain('--grace 0')
    expect(foundJson.hardLinks).toContain('1 corrupt file had other hard links')
    expect(foundJson.filesPerSecond).toBeGreaterThan(0)

    // --fix with the default grace keeps it, and says the same.
    const kept = await runCas(['verify', '--store', storeDir, '--fix'])
    expect(kept.code).toBe(1)
    expect(kept.stdout).toContain('1 problem left: 1 changed within the grace period, so kept')
    expect(kept.stdout).toContain('`--grace 0`')

    // --grace 0: removed, the index deleted, and the report names the package and what restores it.
    const fixed = await runCas(['verify', '--store', storeDir, '--fix', '--grace', '0'])
    expect(fixed.code).toBe(0)
    expect(fixed.stdout).toMatch(/Deleted the index of 1 package that lost files: [^\n]*pkg-c[^\n]*\. What restores it:/)
    expect(fixed.stdout).toContain('pnpm: In each project that uses them, delete node_modules and run `pnpm install`')
    expect(fixed.stdout).toContain('cas-store installers: An installer built on cas-store fetches each of them again at its next `ensurePackage`')
    expect(fixed.stdout).toContain('Repaired:')

    // The advice is right: a plain install keeps the edited file (same inode), and so does --force (if a pnpm
    // release changes that, this fails: then the advice can name --force); a fresh node_modules restores it.
    await install()
    expect(fs.readFileSync(installed, 'utf8')).toBe(EDITED)
    await install('--force')
    expect(fs.readFileSync(installed, 'utf8')).toBe(EDITED)
    fs.rmSync(path.join(project, 'node_modules'), { recursive: true })
    await install()
    expect(fs.readFileSync(installed, 'utf8')).toBe(ORIGINAL)

    // The same facts in --json.
    fs.writeFileSync(installed, EDITED)
    const json = await runCas(['verify', '--store', storeDir, '--fix', '--grace', '0', '--json'])
    expect(json.code).toBe(0)
    const report = JSON.parse(json.stdout) as JsonReport
    expect(report.problems).toMatchObject([{ file: 'lib/deep/deep.js', action: 'removed', indexDeleted: true, links: 2, otherLinks: 1 }])
    expect(report.deletedPackages).toEqual([{ key: report.deletedIndexes[0], pkgId: report.deletedIndexes[0]!.split('\t')[1] }])
    expect(report.deletedPackages[0]!.pkgId).toContain('pkg-c')
    expect(report.restore?.pnpm).toContain('delete node_modules and run `pnpm install`')
    expect(report.restore?.casStore).toContain('ensurePackage')
    expect(report.hardLinks).toContain('1 corrupt file had other hard links')
  })
})

describe('cas verify\'s fast check', () => {
  it('trusts any file whose mtime is not after checkedAt (one-sided, as pnpm): an old mtime hides damage; --full finds it', async () => {
    const dir = tempDir()
    const store = await openStore(path.join(dir, 'store'))
    const index = await store.addFilesFromTarball(packFixture(FIXTURES[0]!).tgz)
    await store.writePackageIndex(packageIndexKey('sha512-AAAA', 'pkg-a@1.0.0'), index)
    await store.close()
    const info = index.files.get('bin/cli.js')!
    const target = store.filePathFor(info.digest, info.mode)
    fs.writeFileSync(target, Buffer.alloc(info.size, '?')) // same size, wrong bytes
    const old = new Date(info.checkedAt! - 86_400_000) // a restore that keeps mtimes, `cp -p`, `touch -d`
    fs.utimesSync(target, old, old)

    const fast = await runCas(['verify', '--store', path.join(dir, 'store')])
    expect(fast.code).toBe(0)
    expect(fast.stdout).toContain('Healthy.')
    expect(fast.stdout.trimEnd().split('\n').at(-1)).toBe(`fast check: ${index.files.size} files trusted by mtime; --full re-hashes everything`)
    const full = await runCas(['verify', '--store', path.join(dir, 'store'), '--full'])
    expect(full.code).toBe(1)
    expect(full.stdout).toContain('1 problem found')
    expect(full.stdout).not.toContain('fast check:')
  })
})
