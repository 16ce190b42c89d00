// `npm run test:mutation [-- folder…]`: StrykerJS over the safety-critical folders, one folder per Stryker run.
//
// Why one run per folder rather than one run over everything: a full run takes hours on 2 cores, and Stryker's
// incremental file only keeps the results of the files the current run mutates. With one incremental file per
// folder (reports/stryker-incremental/<folder>.json, committed), a folder can be rerun alone after a change to it
// while every other folder's results stand, and an interrupted session loses one folder's work at most.
// The per-folder reports are merged into reports/mutation/mutation.json (Stryker's standard JSON schema), and a
// score table per folder is printed at the end.
//
// A folder that takes hours (lib/lock, reached by every test) can be measured a file at a time: a unit
// `lock/pathLock` mutates lib/lock/pathLock.ts alone and keeps its own incremental file
// (reports/stryker-incremental/lock-pathLock.json); in the merged report a file's own unit wins over its folder's.
//
// Between folders the runner waits while reports/mutation/.pause exists: create it to give the machine to a
// benchmark without killing a test mid-mutant (a starved test would be counted as a timeout, i.e. "killed").
import { spawnSync } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'

export const FOLDERS = ['write', 'verify', 'lock', 'maint', 'fetch', 'dir', 'import', 'ensure', 'threads', 'add']

const root = path.resolve(import.meta.dirname ?? path.dirname(new URL(import.meta.url).pathname), '..', '..')
const incrementalDir = path.join(root, 'reports', 'stryker-incremental')
const reportDir = path.join(root, 'reports', 'mutation')
const pauseFile = path.join(reportDir, '.pause')

async function main () {
  const args = process.argv.slice(2)
  // Stryker options pass through: `--concurrency=1` or `--concurrency 1` (a value after a flag is not a folder).
  const passThrough = []
  const asked = []
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]
    if (!arg.startsWith('--')) asked.push(arg)
    else if (arg.includes('=') || args[i + 1] === undefined || args[i + 1].startsWith('--') || FOLDERS.includes(args[i + 1])) {
      passThrough.push(arg)
    } else passThrough.push(arg, args[++i])
  }
  const unknown = asked.filter(unit => !isUnit(unit))
  if (unknown.length > 0) {
    process.stderr.write(`test:mutation: unknown folder or file ${unknown.join(', ')}; choose from ` +
      `${FOLDERS.join(', ')}, or one file of them as <folder>/<name> (lock/pathLock)\n`)
    process.exit(2)
  }
  fs.mkdirSync(incrementalDir, { recursive: true })
  fs.mkdirSync(reportDir, { recursive: true })
  let failed = false
  for (const unit of asked.length > 0 ? asked : FOLDERS) {
    while (fs.existsSync(pauseFile)) await sleep(2000)
    const started = Date.now()
    const { mutate, name } = unitOf(unit)
    process.stderr.write(`[mutation] ${mutate}: started ${new Date().toISOString()}\n`)
    const result = spawnSync('npx', [
      'stryker', 'run',
      '--mutate', mutate,
      '--incrementalFile', path.relative(root, path.join(incrementalDir, `${name}.json`)),
      ...passThrough,
    ], { cwd: root, stdio: 'inherit' })
    const minutes = ((Date.now() - started) / 60000).toFixed(1)
    process.stderr.write(`[mutation] ${mutate}: exit ${String(result.status)} after ${minutes} min\n`)
    if (result.status !== 0) { failed = true; continue }
    fs.copyFileSync(path.join(reportDir, 'mutation.json'), path.join(reportDir, `${name}.json`))
  }
  const merged = mergeReports()
  if (merged !== undefined) {
    fs.writeFileSync(path.join(reportDir, 'mutation.json'), JSON.stringify(merged.report))
    process.stdout.write(merged.table)
  }
  process.exit(failed ? 1 : 0)
}

/** A folder (`lock`) or one file of one (`lock/pathLock`). */
function isUnit (unit) {
  const [folder, file, ...more] = unit.split('/')
  return FOLDERS.includes(folder) && more.length === 0 && (file === undefined || /^[\w.-]+$/.test(file))
}

/** What a unit mutates, and the name of its incremental file (and per-unit report). */
function unitOf (unit) {
  const [folder, file] = unit.split('/')
  return file === undefined
    ? { mutate: `lib/${folder}/**/*.ts`, name: folder, prefix: `lib/${folder}/` }
    : { mutate: `lib/${folder}/${file}.ts`, name: `${folder}-${file}`, prefix: `lib/${folder}/${file}.ts` }
}

/**
 * One report from every unit's incremental file (they hold the same results as the run's JSON report, and they
 * are the committed ones, so the table can be rebuilt in a fresh clone without a run).
 */
export function mergeReports () {
  let base
  const files = {}
  const fromFileUnit = new Set()
  const saved = fs.existsSync(incrementalDir) ? fs.readdirSync(incrementalDir).filter(f => f.endsWith('.json')) : []
  // Folder units first, then file units, so a file measured on its own wins over its folder's older result.
  for (const unit of saved.map(f => f.slice(0, -'.json'.length).replace('-', '/')).filter(isUnit)
    .sort((a, b) => a.split('/').length - b.split('/').length || a.localeCompare(b))) {
    const { name: saveName, prefix } = unitOf(unit)
    const report = JSON.parse(fs.readFileSync(path.join(incrementalDir, `${saveName}.json`), 'utf8'))
    base ??= report
    for (const [name, result] of Object.entries(report.files)) {
      if (!name.startsWith(prefix)) continue
      if (unit.includes('/')) fromFileUnit.add(name)
      else if (fromFileUnit.has(name)) continue
      files[name] = result
    }
  }
  if (base === undefined) return undefined
  return { report: { ...base, files }, table: scoreTable(files) }
}

/** Score = (killed + timed out) / (all but ignored and compile errors), per folder and in all. */
export function scoreTable (files) {
  const rows = new Map()
  const add = (key, status) => {
    const row = rows.get(key) ?? { files: new Set(), Killed: 0, Timeout: 0, Survived: 0, NoCoverage: 0, other: 0 }
    if (status in row) row[status]++
    else if (status !== 'Ignored' && status !== 'CompileError' && status !== 'RuntimeError') row.other++
    rows.set(key, row)
    return row
  }
  for (const [name, result] of Object.entries(files)) {
    const folder = name.split('/').slice(0, 2).join('/')
    for (const mutant of result.mutants) {
      add(folder, mutant.status).files.add(name)
      add('all', mutant.status).files.add(name)
    }
  }
  const lines = ['| folder | files | mutants | killed | timed out | survived | no coverage | score |',
    '|---|---|---|---|---|---|---|---|']
  for (const [key, r] of [...rows].sort(([a], [b]) => (a === 'all') - (b === 'all') || a.localeCompare(b))) {
    const total = r.Killed + r.Timeout + r.Survived + r.NoCoverage + r.other
    const score = total === 0 ? 100 : (r.Killed + r.Timeout) / total * 100
    lines.push(`| ${key === 'all' ? 'all' : '`' + key + '`'} | ${r.files.size} | ${total} | ${r.Killed} | ${r.Timeout} | ` +
      `${r.Survived} | ${r.NoCoverage} | ${score.toFixed(1)}% |`)
  }
  return lines.join('\n') + '\n'
}

const invokedAs = process.argv[1] === undefined ? '' : path.resolve(process.argv[1])
if (invokedAs === path.resolve(new URL(import.meta.url).pathname)) {
  await main()
}
