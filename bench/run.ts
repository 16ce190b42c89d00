// The benchmark harness:
//   npm run bench [-- --json] [--corpus DIR] [--files N] [--packages N] [--runs N] [--large-mb N] [--work DIR]
//                 [--quick] [--only add,verify,storeVerify,ensure,tarball,large,import,remote]
//                 [--store-packages N] [--store-files-per-package N]
// Every system is measured on the same corpus in the same run; results are ratios, never absolute promises.
import { execSync, spawn } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { generateCorpus, listCorpus } from './corpus.js'
import { formatMarkdown, type Figure, type Report, type Scenario, type Target } from './report.js'
import { openStore } from './cas.js'
import { buildPackageStore, casVerifyStore, statLoop } from './storeVerify.js'
import { remoteScenarios } from './remote.js'
import { cacachePut, cacacheVerify, casAdd, casAddAfter, casAddTarballs, casVerify, pnpmAdd, pnpmAddTarballs, pnpmVerify, rawAdd, rawStat } from './systems.js'
import { packCorpus, startRegistry } from './tarballs.js'
import { casImportAll, pnpmImportAll, pnpmVerifyImportAll, removeTree, splitIntoPackages } from './importScenario.js'

const here = path.dirname(fileURLToPath(import.meta.url))
const { values: args } = parseArgs({
  options: {
    corpus: { type: 'string' },
    files: { type: 'string', default: '12000' },
    packages: { type: 'string', default: '500' },
    seed: { type: 'string', default: '42' },
    runs: { type: 'string', default: '3' },
    'large-mb': { type: 'string', default: '1024' },
    json: { type: 'boolean', default: false },
    quick: { type: 'boolean', default: false },
    work: { type: 'string' },
    only: { type: 'string' },
    'store-packages': { type: 'string', default: '300' },
    'store-files-per-package': { type: 'string', default: '166' },
  },
})
const quick = args.quick === true
const runs = quick ? 1 : Number(args.runs)
const largeBytes = (quick ? 16 : Number(args['large-mb'])) * 1024 * 1024
/** Scenario groups to run (all by default); a skipped group's scenarios and targets are left out of the report. */
const only = args.only?.split(',').map(g => g.trim())
const want = (...groups: string[]): boolean => only === undefined || groups.some(g => only.includes(g))
const runsOf = (...groups: string[]): number => want(...groups) ? runs : 0
const progress = (line: string): void => { process.stderr.write(`[bench] ${line}\n`) }

// Where the stores are made: the OS temp dir by default; `--work /dev/shm` measures CPU and syscalls without disk.
const work = fs.mkdtempSync(path.join(args.work ?? os.tmpdir(), 'cas-bench-'))
let storeCount = 0
const freshDir = (name: string): string => path.join(work, `${name}-${storeCount++}`)

async function main (): Promise<void> {
  const corpus = args.corpus !== undefined
    ? path.resolve(args.corpus)
    : generateCorpus(path.join(here, '..', '.bench-tmp'), quick ? 300 : Number(args.files), Number(args.seed))
  progress(`corpus: ${corpus}`)
  const files = listCorpus(corpus)
  const bytes = files.reduce((sum, f) => sum + f.size, 0)
  const figure = (system: string, ms: number, count = files.length, size = bytes): Figure =>
    ({ system, ms, files: count, bytes: size, filesPerSec: count / (ms / 1000), mbPerSec: size / 1e6 / (ms / 1000) })
  const scenarios: Scenario[] = []

  // 1. Cold add, and 5. lock overhead (same code path, locking off).
  progress('cold add')
  const cold = { cas: [] as number[], casNoLock: [] as number[], pnpm: [] as number[], raw: [] as number[] }
  let casStore = ''
  let pnpmRoot = ''
  let rawPaths: string[] = []
  let casIndex: Awaited<ReturnType<typeof casAdd>> | undefined
  let pnpmIndex: ReturnType<typeof pnpmAdd> | undefined
  // One untimed round of each system first: the first add of a process also pays for loading its code and for the
  // process's first worker thread, which in earlier runs made run 1 an outlier (cold add 0.41x, lock overhead 200%)
  // that no later run or any installer's second package sees.
  if (runsOf('add', 'verify', 'import') > 0) {
    const warmUp = [freshDir('warmup-cas'), freshDir('warmup-nolock'), freshDir('warmup-pnpm'), freshDir('warmup-raw')]
    await casAdd(warmUp[0]!, corpus)
    await casAdd(warmUp[1]!, corpus, { noLocks: true })
    pnpmAdd(warmUp[2]!, corpus)
    rawAdd(warmUp[3]!, corpus)
    for (const dir of warmUp) fs.rmSync(dir, { recursive: true, force: true })
  }
  for (let r = 0; r < runsOf('add', 'verify', 'import'); r++) {
    // The locks-on and locks-off adds take turns going first (on, off | off, on | ...): whichever runs second finds
    // the page cache and the allocator warmer, and a fixed order would charge that to one side every time.
    const noLockAdd = async (): Promise<void> => {
      const noLock = freshDir('cas-nolock')
      cold.casNoLock.push(await timed(async () => { await casAdd(noLock, corpus, { noLocks: true }) }))
      fs.rmSync(noLock, { recursive: true, force: true })
    }
    if (r % 2 === 1) await noLockAdd()
    casStore = freshDir('cas')
    cold.cas.push(await timed(async () => { casIndex = await casAdd(casStore, corpus) }))
    if (r % 2 === 0) await noLockAdd()
    pnpmRoot = freshDir('pnpm')
    cold.pnpm.push(await timed(() => { pnpmIndex = pnpmAdd(pnpmRoot, corpus) }))
    const rawRoot = freshDir('raw')
    cold.raw.push(await timed(() => { rawPaths = rawAdd(rawRoot, corpus) }))
  }
  progress('cold add: cacache')
  const cacacheDir = freshDir('cacache')
  const cacacheMs = want('add', 'verify') ? await timed(async () => { await cacachePut(cacacheDir, files) }) : NaN
  scenarios.push({
    name: 'Cold add (empty store, whole corpus)',
    figures: [figure('cas-store', median(cold.cas)), figure('pnpm 10 store.cafs', median(cold.pnpm)),
      figure('raw temp+rename floor', median(cold.raw)), figure('cacache 20 put', cacacheMs)],
    extra: { 'vs pnpm 10, per run': perRun(cold.pnpm, cold.cas) },
  })

  // 1b. The same add with the store's threads already running: a second folder of the same shape (another seed)
  // added into the same open store first, untimed. A fresh worker thread runs cold code and spends CPU compiling
  // it (measured: V8's compiler threads take ~300 ms of CPU in the cold add, ~80 ms once warm); an installer adding
  // many packages into one open store pays that once. pnpm's figure is its cold add above (one thread, hot code).
  progress('add with threads running')
  const threadsWarm: number[] = []
  const second = want('add') && args.corpus === undefined
    ? generateCorpus(path.join(here, '..', '.bench-tmp'), quick ? 300 : Number(args.files), Number(args.seed) + 1)
    : undefined
  const warmRuns = second === undefined ? 0 : runsOf('add')
  for (let r = 0; r < warmRuns; r++) {
    const dir = freshDir('cas-threads-warm')
    threadsWarm.push(await casAddAfter(dir, second!, corpus))
    fs.rmSync(dir, { recursive: true, force: true })
  }
  if (threadsWarm.length > 0) {
    scenarios.push({
      name: 'Add with the store\'s threads already running (a second folder into the same open store)',
      figures: [figure('cas-store, threads warm', median(threadsWarm)), figure('pnpm 10 store.cafs (cold add above)', median(cold.pnpm))],
    })
  }

  progress('warm re-add')
  const warm = { cas: [] as number[], pnpm: [] as number[] }
  for (let r = 0; r < runsOf('add'); r++) {
    warm.cas.push(await timed(async () => { await casAdd(casStore, corpus) }))
    warm.pnpm.push(await timed(() => { pnpmAdd(pnpmRoot, corpus) }))
  }
  scenarios.push({
    name: 'Warm re-add (same corpus into the full store)',
    figures: [figure('cas-store', median(warm.cas)), figure('pnpm 10 store.cafs', median(warm.pnpm))],
  })

  progress('verify')
  const ver: Record<'casFast' | 'casSlow' | 'pnpmFast' | 'pnpmSlow' | 'stat', number[]> = {
    casFast: [], casSlow: [], pnpmFast: [], pnpmSlow: [], stat: [],
  }
  for (let r = 0; r < runsOf('verify'); r++) {
    ver.casFast.push(await timed(async () => { assert(await casVerify(casStore, casIndex!, true), 'cas fast verify failed') }))
    ver.pnpmFast.push(await timed(() => { assert(pnpmVerify(pnpmRoot, pnpmIndex!, true), 'pnpm fast verify failed') }))
    ver.stat.push(await timed(() => { rawStat(rawPaths) }))
    ver.casSlow.push(await timed(async () => { assert(await casVerify(casStore, casIndex!, false), 'cas slow verify failed') }))
    ver.pnpmSlow.push(await timed(() => { assert(pnpmVerify(pnpmRoot, pnpmIndex!, false), 'pnpm slow verify failed') }))
  }
  scenarios.push({
    name: 'Verify, fast path (fresh checkedAt: one stat per file)',
    figures: [figure('cas-store', median(ver.casFast)), figure('pnpm 10 store.cafs', median(ver.pnpmFast)),
      figure('bare stat loop', median(ver.stat))],
  })
  progress('verify: cacache (whole cache)')
  const cacacheVerifyMs = want('verify') ? await timed(async () => { await cacacheVerify(cacacheDir) }) : NaN
  scenarios.push({
    name: 'Verify, slow path (checkedAt 0: every file re-hashed)',
    figures: [figure('cas-store', median(ver.casSlow)), figure('pnpm 10 store.cafs', median(ver.pnpmSlow)),
      figure('cacache 20 verify (whole cache)', cacacheVerifyMs)],
    extra: { 'vs pnpm 10, per run': perRun(ver.pnpmSlow, ver.casSlow) },
  })

  // The whole-store verify: a store of many packages built here (bench/storeVerify.ts).
  const storePackages = quick ? 10 : Number(args['store-packages'])
  const perPackage = quick ? 20 : Number(args['store-files-per-package'])
  const whole = { fast: [] as number[], stat: [] as number[], full: [] as number[], fullJobs1: [] as number[] }
  let storePaths: string[] = []
  let storeBytes = 0
  if (want('storeVerify')) {
    progress(`whole-store verify: building a store of ${storePackages} packages x ${perPackage} files`)
    const pkgStore = freshDir('packages')
    storePaths = await buildPackageStore(openStore, pkgStore, storePackages, perPackage, Number(args.seed))
    storeBytes = storePaths.reduce((sum, p) => sum + fs.statSync(p).size, 0)
    for (let r = 0; r < runs; r++) {
      whole.fast.push(await timed(async () => { await casVerifyStore(openStore, pkgStore) }))
      whole.stat.push(await timed(() => { statLoop(storePaths) }))
      whole.full.push(await timed(async () => { await casVerifyStore(openStore, pkgStore, { full: true }) }))
      const jobs1 = { full: true, jobs: 1 }
      whole.fullJobs1.push(await timed(async () => { await casVerifyStore(openStore, pkgStore, jobs1) }))
    }
    fs.rmSync(pkgStore, { recursive: true, force: true })
  }
  const storeFigure = (system: string, ms: number): Figure => figure(system, ms, storePaths.length, storeBytes)
  scenarios.push({
    name: `Whole-store verify (\`cas verify\`, ${storePackages} packages, ${storePaths.length} files)`,
    figures: [storeFigure('cas verify (fast check)', median(whole.fast)),
      storeFigure('bare statSync loop, same paths', median(whole.stat)),
      storeFigure('cas verify --full', median(whole.full)),
      storeFigure('cas verify --full --jobs 1', median(whole.fullJobs1))],
    extra: {
      'fast check vs stat loop, per run': perRun(whole.stat, whole.fast),
      '--full vs --full --jobs 1, per run': perRun(whole.fullJobs1, whole.full),
    },
  })

  // 5-7. Packages: the corpus packed as ~500 tarballs (24 files each) and served by a local HTTP registry.
  const packages = packCorpus(files, tarballDir(corpus, files.length))
  const packedDir = tarballDir(corpus, files.length)
  const tarballBytes = packages.reduce((sum, p) => sum + fs.statSync(path.join(packedDir, p.file)).size, 0)
  const registry = await startRegistry(tarballDir(corpus, files.length))
  const listFile = path.join(work, 'packages.json')
  fs.writeFileSync(listFile, JSON.stringify(packages.map(p => ({ pkgId: p.pkgId, integrity: p.integrity, url: `${registry.origin}/${p.file}` }))))
  const ensure = {
    single: [] as number[],
    singleInChild: [] as number[],
    wall: [] as number[],
    warm: [] as number[],
    warmNoVerify: [] as number[],
    // CPU time (user + system) of the children, start-up included: steadier than wall time on a shared machine.
    singleCpu: [] as number[],
    fourCpu: [] as number[],
  }
  const errors: string[] = []
  let downloads = { min: Infinity, max: 0, total: 0 }
  try {
    for (let r = 0; r < runsOf('ensure'); r++) {
      progress(`ensurePackage: 1 process, then 4 processes (${packages.length} packages)`)
      // Both sides run as child processes, so process start-up is on both sides of the ratio.
      const singleStore = freshDir('ensure-single')
      let one: Record<string, unknown> = {}
      ensure.single.push(await timed(async () => { one = await runChild('ensurePackages.ts', [singleStore, listFile, '8']) }))
      ensure.singleInChild.push(one.ms as number)
      ensure.singleCpu.push(one.cpuMs as number)
      errors.push(...childErrors(one, packages.length))
      registry.hits.clear()
      const shared = freshDir('ensure-contended')
      const four: Array<Record<string, unknown>> = []
      ensure.wall.push(await timed(async () => {
        four.push(...await Promise.all([0, 1, 2, 3].map(async () => await runChild('ensurePackages.ts', [shared, listFile, '8']))))
      }))
      for (const child of four) errors.push(...childErrors(child, packages.length))
      ensure.fourCpu.push(four.reduce((sum, c) => sum + ((c.cpuMs as number | undefined) ?? 0), 0))
      const fetchedAll = four.reduce((sum, c) => sum + ((c.fetched as number | undefined) ?? 0), 0)
      if (fetchedAll !== packages.length) errors.push(`the 4 processes fetched ${fetchedAll} packages in all, not ${packages.length}`)
      const counts = packages.map(p => registry.hits.get(p.file) ?? 0)
      downloads = {
        min: Math.min(downloads.min, ...counts),
        max: Math.max(downloads.max, ...counts),
        total: counts.reduce((a, b) => a + b, 0),
      }
      progress('ensurePackage: warm (all stored)')
      registry.hits.clear()
      const warm = await runChild('ensurePackages.ts', [singleStore, listFile, '8'])
      errors.push(...childErrors(warm, packages.length))
      if (registry.hits.size > 0 || (warm.fetched as number) > 0) errors.push('the warm run fetched packages')
      ensure.warm.push(warm.ms as number)
      const trusting = await runChild('ensurePackages.ts', [singleStore, listFile, '8', 'noverify'])
      errors.push(...childErrors(trusting, packages.length))
      ensure.warmNoVerify.push(trusting.ms as number)
    }
  } finally {
    await registry.close()
  }
  const pkgFigure = (system: string, ms: number): Figure => figure(system, ms, packages.length, tarballBytes)
  scenarios.push({
    name: `Contention (4 processes ensurePackage the same ${packages.length} packages from a local registry into one empty store)`,
    figures: [pkgFigure('cas-store, 4 processes at once (wall)', median(ensure.wall)), pkgFigure('cas-store, 1 process', median(ensure.single))],
    extra: {
      wallMs: median(ensure.wall),
      singleProcessMs: median(ensure.single),
      cpuMsOf4Processes: median(ensure.fourCpu),
      cpuMsOf1Process: median(ensure.singleCpu),
      downloadsPerTarballMin: downloads.min,
      downloadsPerTarballMax: downloads.max,
      errors,
    },
  })
  scenarios.push({
    name: `Warm ensurePackage (the same ${packages.length} packages, all stored: index read + fast verify each)`,
    figures: [pkgFigure('cas-store, warm', median(ensure.warm)), pkgFigure('cas-store, cold (same child, empty store)', median(ensure.singleInChild)),
      pkgFigure('cas-store, warm with verify: false (index read only)', median(ensure.warmNoVerify))],
  })

  progress(`addFilesFromTarball: ${packages.length} tarballs`)
  const tarballs = packages.map(p => ({ path: path.join(packedDir, p.file), integrity: p.integrity }))
  const tar = { cas: [] as number[], pnpm: [] as number[] }
  for (let r = 0; r < runsOf('tarball'); r++) {
    const casDir = freshDir('tgz-cas')
    tar.cas.push(await timed(async () => { await casAddTarballs(casDir, tarballs) }))
    const pnpmDir = freshDir('tgz-pnpm')
    tar.pnpm.push(await timed(() => { pnpmAddTarballs(pnpmDir, tarballs) }))
    fs.rmSync(casDir, { recursive: true, force: true })
    fs.rmSync(pnpmDir, { recursive: true, force: true })
  }
  scenarios.push({
    name: `addFilesFromTarball (${packages.length} tarballs into an empty store)`,
    figures: [figure('cas-store (integrity checked, 4 in flight)', median(tar.cas)),
      figure('pnpm 10 store.cafs (no integrity check, synchronous)', median(tar.pnpm))],
  })

  scenarios.push({
    name: 'Lock overhead (cold add, path lock on vs off)',
    figures: [figure('cas-store, locks on', median(cold.cas)), figure('cas-store, locks off (unsafe)', median(cold.casNoLock))],
    // The target is per run ("<= 10% in at least 4 of 5 runs"): each run's locks-on add against the locks-off add
    // that ran right after it.
    extra: { 'overhead, per run': cold.cas.map((ms, i) => `${((ms / cold.casNoLock[i]! - 1) * 100).toFixed(1)}%`).join(', ') },
  })

  progress(`large file: ${largeBytes / 1024 / 1024} MiB stream`)
  const large = want('large') ? await runChild('largeStream.ts', [freshDir('large'), String(largeBytes)]) : { ms: NaN, rssGrowth: NaN }
  scenarios.push({
    name: `Large file (${largeBytes / 1024 / 1024} MiB stream through ensureFile)`,
    figures: [figure('cas-store', large.ms as number, 1, largeBytes)],
    extra: { rssGrowthMiB: (large.rssGrowth as number) / 1024 / 1024 },
  })

  // 8. Import: the corpus as packages into an empty node_modules, against pnpm's importer; then the skip.
  const packageCount = quick ? 30 : Number(args.packages)
  progress(`import: ${packageCount} packages, hardlink and copy, cas-store and pnpm's importer`)
  const importPkgs = want('import') ? await splitIntoPackages(casStore, casIndex!, packageCount) : []
  const importFiles = importPkgs.reduce((n, p) => n + p.index.files.size, 0)
  const importBytes = importPkgs.reduce((n, p) => n + [...p.index.files.values()].reduce((b, f) => b + f.size, 0), 0)
  const imp = {
    hardlink: { cas: [] as number[], pnpm: [] as number[], pnpmVerify: [] as number[] },
    copy: { cas: [] as number[], pnpm: [] as number[], pnpmVerify: [] as number[] },
    skip: [] as number[],
    skipCpu: [] as number[],
  }
  for (const method of want('import') ? ['hardlink', 'copy'] as const : []) {
    // Untimed warm-up of both systems: the first pass over the store's files pays for cold dentry and inode caches
    // (2.5x for whoever goes first, measured), and the first call of a code path for the JIT.
    for (const warm of ['cas', 'pnpm'] as const) {
      const nm = path.join(freshDir('nm-warm'), 'node_modules')
      fs.mkdirSync(nm, { recursive: true })
      const store = await openStore(casStore)
      if (warm === 'cas') await casImportAll(store, importPkgs, nm, method)
      else pnpmVerifyImportAll(store.root, importPkgs, nm, method)
      await store.close()
      removeTree(path.dirname(nm))
    }
    for (let r = 0; r < runs; r++) {
      // Alternate who goes first, so neither always meets the other's write-back.
      for (const who of r % 2 === 0 ? ['cas', 'pnpm', 'pnpmVerify'] as const : ['pnpmVerify', 'pnpm', 'cas'] as const) {
        const nm = path.join(freshDir('nm'), 'node_modules')
        fs.mkdirSync(nm, { recursive: true })
        let count = 0
        const store = await openStore(casStore) // a fresh instance: nothing learned carries over but the method memory
        imp[method][who].push(await timed(async () => {
          count = who === 'cas'
            ? await casImportAll(store, importPkgs, nm, method)
            : who === 'pnpm' ? pnpmImportAll(importPkgs, nm, method) : pnpmVerifyImportAll(store.root, importPkgs, nm, method)
        }))
        assert(count === importPkgs.length, `${who} ${method} imported ${count} of ${importPkgs.length} packages`)
        if (who === 'cas' && method === 'hardlink' && imp.skip.length === 0) {
          for (let s = 0; s < runs; s++) {
            const cpu = process.cpuUsage()
            imp.skip.push(await timed(async () => { assert(await casImportAll(store, importPkgs, nm, method) === 0, 'skip re-imported') }))
            const used = process.cpuUsage(cpu)
            // On a loaded machine, wall time includes waiting for a core.
            imp.skipCpu.push((used.user + used.system) / 1000)
          }
        }
        await store.close()
        removeTree(path.dirname(nm))
      }
    }
    scenarios.push({
      name: `Import ${importPkgs.length} packages into an empty node_modules (${method})`,
      figures: [figure('cas-store importPackage', median(imp[method].cas), importFiles, importBytes),
        figure(`pnpm fs.indexed-pkg-importer (${method})`, median(imp[method].pnpm), importFiles, importBytes),
        figure('pnpm store.cafs verify + importer (the same work)', median(imp[method].pnpmVerify), importFiles, importBytes)],
      extra: {
        casPackagesPerSec: importPkgs.length / (median(imp[method].cas) / 1000),
        pnpmPackagesPerSec: importPkgs.length / (median(imp[method].pnpm) / 1000),
        casRuns: imp[method].cas.map(Math.round).join('/'),
        pnpmRuns: imp[method].pnpm.map(Math.round).join('/'),
      },
    })
  }
  const skipPerSec = importPkgs.length / (median(imp.skip) / 1000)
  scenarios.push({
    name: `Import onto complete targets (${importPkgs.length} packages already in place: kept)`,
    figures: [figure('cas-store importPackage, skip', median(imp.skip), importFiles, importBytes)],
    extra: {
      packagesPerSec: skipPerSec,
      runs: imp.skip.map(ms => Math.round(importPkgs.length / (ms / 1000))).join('/') + ' packages/s',
      cpuBound: imp.skipCpu.map(ms => Math.round(importPkgs.length / (ms / 1000))).join('/') + ' packages per CPU-second',
    },
  })
  const packed = tarballDir(corpus, files.length)
  const remote = want('remote')
    ? await remoteScenarios({
      files, packages, tarballDir: packed, freshDir, runChild, timed, progress, figure, target,
    })
    : { scenarios: [], targets: [] }
  scenarios.push(...remote.scenarios)

  const ratio = (a: number, b: number): number => b / a // ms ratio: how many times faster `a` is than `b`
  const targets: Target[] = [
    target('cold add vs pnpm 10', '>= 1.3x', ratio(median(cold.cas), median(cold.pnpm)), x => x >= 1.3),
    target('cold add vs raw temp+rename floor', '>= 0.8x', ratio(median(cold.cas), median(cold.raw)), x => x >= 0.8),
    target('warm re-add vs pnpm 10', '>= 2x', ratio(median(warm.cas), median(warm.pnpm)), x => x >= 2),
    target('verify fast path vs pnpm 10', '>= 1.0x', ratio(median(ver.casFast), median(ver.pnpmFast)), x => x >= 1),
    target('verify slow path vs pnpm 10', '>= 1.5x', ratio(median(ver.casSlow), median(ver.pnpmSlow)), x => x >= 1.5),
    target('cas verify (fast check) vs bare stat loop', '>= 0.5x', ratio(median(whole.fast), median(whole.stat)), x => x >= 0.5),
    target('cas verify --full vs its own --jobs 1', '>= 1.6x', ratio(median(whole.full), median(whole.fullJobs1)), x => x >= 1.6),
    target('whole-store verify vs cacache verify (files/s)', '>= 50x', ratio(median(ver.casSlow), cacacheVerifyMs), x => x >= 50),
    target('contention: 4 processes ensurePackage wall time vs 1 process', '<= 1.3x, 1 download per tarball, 0 errors',
      median(ensure.wall) / median(ensure.single),
      x => x <= 1.3 && downloads.min === 1 && downloads.max === 1 && errors.length === 0,
      `x, downloads per tarball: ${downloads.min}-${downloads.max}, errors: ${errors.length}`),
    target('warm ensurePackage vs cold', '<= 5%', median(ensure.warm) / median(ensure.singleInChild) * 100, x => x <= 5, '%'),
    target('addFilesFromTarball vs pnpm 10', '>= 1.3x', ratio(median(tar.cas), median(tar.pnpm)), x => x >= 1.3),
    target('lock overhead (locks on vs off)', '<= 10%', (median(cold.cas) / median(cold.casNoLock) - 1) * 100, x => x <= 10, '%'),
    target('large file peak RSS growth', '<= 64 MiB', (large.rssGrowth as number) / 1024 / 1024, x => x <= 64, ' MiB'),
    target('import, hardlink, vs pnpm importer', '>= 1.2x', ratio(median(imp.hardlink.cas), median(imp.hardlink.pnpm)), x => x >= 1.2),
    target('import, copy, vs pnpm importer', '>= 1.2x', ratio(median(imp.copy.cas), median(imp.copy.pnpm)), x => x >= 1.2),
    target('import skip of complete targets', '>= 20,000 packages/s', skipPerSec, x => x >= 20_000, ' packages/s'),
    ...remote.targets,
  ]
  // A skipped group (`--only`) measured nothing: its figures are NaN, and it is left out.
  const measured = <T>(list: T[], values: (item: T) => number[]): T[] =>
    list.filter(item => values(item).every(Number.isFinite))
  const report: Report = {
    date: new Date().toISOString(),
    machine: {
      node: process.version,
      platform: `${os.platform()} ${os.arch()}`,
      cpus: os.cpus().length,
      cpuModel: os.cpus()[0]?.model ?? '',
      memoryGiB: Math.round(os.totalmem() / 2 ** 30),
    },
    corpus: {
      path: corpus,
      files: files.length,
      bytes,
      medianSize: medianOf(files.map(f => f.size)),
      p90Size: percentile(files.map(f => f.size), 0.9),
      maxSize: Math.max(...files.map(f => f.size)),
    },
    workDir: path.dirname(work),
    runs,
    scenarios: measured(scenarios, s => s.figures.map(f => f.ms)),
    targets: measured(targets, t => [t.actual]),
  }
  process.stdout.write(args.json === true ? JSON.stringify(report, null, 2) + '\n' : formatMarkdown(report))
}

function target (name: string, goal: string, actual: number, met: (x: number) => boolean, unit = 'x'): Target {
  return { name, goal, actual: Math.round(actual * 100) / 100, unit, met: met(actual) }
}

/**
 * Times `fn` after flushing dirty pages (sync), so one system's writes are not paid for by the next one's
 * measurement: on this kind of VM, creating a file costs 0.4-0.7 ms and write-back is bursty.
 */
async function timed (fn: () => unknown): Promise<number> {
  execSync('sync')
  const start = performance.now()
  await fn()
  return performance.now() - start
}

function tarballDir (corpus: string, count: number): string {
  return path.join(here, '..', '.bench-tmp', `tarballs-${path.basename(corpus)}-${count}`)
}

/** A child's errors, plus one if it did not finish every package. */
function childErrors (child: Record<string, unknown>, expected: number): string[] {
  const errors = (child.errors as string[] | undefined) ?? [`child failed: ${String(child.failure)}`]
  return child.packages === expected ? errors : [...errors, `a child finished ${String(child.packages)} of ${expected} packages`]
}

/** Run-by-run ratios `slower[i] / faster[i]`, for the spread: "1.52x, 1.41x, 1.60x". */
function perRun (slower: number[], faster: number[]): string {
  return faster.map((ms, i) => `${(slower[i]! / ms).toFixed(2)}x`).join(', ')
}

function median (values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.floor(sorted.length / 2)]!
}
const medianOf = median
function percentile (values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))]!
}

function assert (ok: boolean, message: string): void {
  if (!ok) throw new Error(message)
}

async function runChild (script: string, childArgs: string[]): Promise<Record<string, unknown>> {
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(here, 'children', script), ...childArgs], { stdio: ['ignore', 'pipe', 'inherit'] })
  let out = ''
  child.stdout.on('data', chunk => { out += String(chunk) })
  const code = await new Promise(resolve => child.on('exit', resolve))
  try {
    return JSON.parse(out.trim().split('\n').at(-1) ?? '') as Record<string, unknown>
  } catch {
    return { failure: `exit ${String(code)}: ${out}` }
  }
}

try {
  await main()
} finally {
  fs.rmSync(work, { recursive: true, force: true })
}
