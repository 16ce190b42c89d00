// The remote-tier scenarios (issue 15): a CI runner filling its store from the team's nginx cache, against the
// same runner filling it from the registry's tarballs; and a warm-ish runner, whose store holds half the files,
// counting the bytes it downloads against the bytes it lacked. Every runner is a child process.
import crypto from 'node:crypto'
import fs from 'node:fs'
import path from 'node:path'
import { openStore } from './cas.js'
import { startNginx } from '../test/helpers/nginx.js'
import type { Figure, Scenario, Target } from './report.js'
import { startRegistry, type BenchPackage } from './tarballs.js'

/** A corpus file as `listCorpus` gives it. */
interface CorpusFile { path: string, rel: string, size: number, mode: number }

/** Options of {@link remoteScenarios}. */
export interface RemoteBenchOptions {
  /** The corpus, and the packages `packCorpus` made of it (24 files each plus a package.json, in listing order). */
  files: CorpusFile[]
  packages: BenchPackage[]
  tarballDir: string
  perPackage?: number
  freshDir: (name: string) => string
  runChild: (script: string, args: string[]) => Promise<Record<string, unknown>>
  timed: (fn: () => unknown) => Promise<number>
  progress: (line: string) => void
  figure: (system: string, ms: number, count?: number, size?: number) => Figure
  target: (name: string, goal: string, actual: number, met: (x: number) => boolean, unit?: string) => Target
}

/** Every file of every package, as `packCorpus` packed them: each package's manifest, then its share of the corpus. */
function packageFiles (o: RemoteBenchOptions): Array<{ data: Buffer, mode: number }> {
  const per = o.perPackage ?? 24
  const out: Array<{ data: Buffer, mode: number }> = []
  o.packages.forEach((pkg, n) => {
    const name = pkg.pkgId.slice(0, pkg.pkgId.lastIndexOf('@'))
    out.push({ data: Buffer.from(JSON.stringify({ name, version: '1.0.0' })), mode: 0o644 })
    for (const f of o.files.slice(n * per, (n + 1) * per)) {
      out.push({ data: fs.readFileSync(f.path), mode: f.mode & 0o777 })
    }
  })
  return out
}

/**
 * Runs the remote-tier scenarios and returns them with their targets: the cold runner from the remote no slower
 * than from tarballs, and the warm-ish runner downloading at most 1.1x the bytes of the files it lacks.
 */
export async function remoteScenarios (o: RemoteBenchOptions): Promise<{ scenarios: Scenario[], targets: Target[] }> {
  const packages = o.packages
  const registry = await startRegistry(o.tarballDir)
  const requests = (): number => [...registry.hits.values()].reduce((n, h) => n + h, 0)
  const sizes = new Map(packages.map(p => [p.file, fs.statSync(path.join(o.tarballDir, p.file)).size]))
  const nginx = await startNginx()
  try {
    const listFile = path.join(o.freshDir('remote-list'), 'packages.json')
    fs.mkdirSync(path.dirname(listFile), { recursive: true })
    fs.writeFileSync(listFile, JSON.stringify(packages.map(p => ({ integrity: p.integrity, pkgId: p.pkgId, url: `${registry.origin}/${p.file}` }))))
    const jobs = '16'
    type RunResult = Record<string, unknown> & { ms: number }
    const run = async (label: string, storeDir: string, remote: string, upload: boolean): Promise<RunResult> => {
      o.progress(`remote tier: ${label}`)
      let result: Record<string, unknown> = {}
      await o.timed(async () => { result = await o.runChild('remoteFill.ts', [storeDir, listFile, remote, String(upload), jobs]) })
      const errors = [...(result.errors as string[] | undefined) ?? [`child failed: ${String(result.failure)}`], ...(result.remoteErrors as string[] | undefined) ?? []]
      if (errors.length > 0) throw new Error(`${label}: ${errors.slice(0, 3).join('; ')}`)
      return result as Record<string, unknown> & { ms: number }
    }

    // Seed the team cache: one runner installs from the registry and uploads behind itself.
    await run('seeding the remote (install from tarballs, upload)', o.freshDir('remote-seed'), nginx.url, true)
    const registryBytes = [...sizes.values()].reduce((n, b) => n + b, 0) // the tarball path downloads them all

    // Cold runners: an empty store from tarballs, and an empty store from the remote (registry untouched).
    const beforeTar = requests()
    const fromTarballs = await run('cold runner from tarballs', o.freshDir('remote-cold-tar'), '-', false)
    const tarballRequests = requests() - beforeTar
    const beforeRemote = requests()
    const fromRemote = await run('cold runner from the remote', o.freshDir('remote-cold-remote'), nginx.url, false)
    if (requests() !== beforeRemote) throw new Error('the cold runner from the remote asked the registry')
    type Stats = { requests: { GET: number, HEAD: number, PUT: number }, bytesDownloaded: number }
    const remoteStats = fromRemote.stats as Stats

    // Warm-ish runner: half of the distinct files already in its store (every other one), no index.
    const warmDir = o.freshDir('remote-warm')
    const all = packageFiles(o)
    const distinct = new Map<string, { data: Buffer, mode: number }>()
    for (const f of all) distinct.set(crypto.createHash('sha512').update(f.data).digest('hex') + (f.mode & 0o111 ? 'x' : ''), f)
    const warm = await openStore(warmDir)
    let lackedBytes = 0
    let i = 0
    for (const f of distinct.values()) {
      if (i++ % 2 === 0) await warm.ensureFile(f.data, { mode: f.mode })
      else lackedBytes += f.data.length
    }
    await warm.close()
    const warmRun = await run('warm-ish runner from the remote', warmDir, nginx.url, false)
    const warmStats = warmRun.stats as { requests: { GET: number }, bytesDownloaded: number }

    const totalBytes = all.reduce((n, f) => n + f.data.length, 0)
    const fileCount = all.length
    const scenarios: Scenario[] = [{
      name: `Remote tier: cold CI runner, ${packages.length} packages into an empty store`,
      figures: [o.figure('cas-store from the remote (nginx WebDAV)', fromRemote.ms, fileCount, totalBytes),
        o.figure('cas-store from tarballs (local registry)', fromTarballs.ms, fileCount, totalBytes)],
      extra: {
        remoteRequests: remoteStats.requests.GET + remoteStats.requests.HEAD + remoteStats.requests.PUT,
        remoteBytesDownloaded: remoteStats.bytesDownloaded,
        tarballRequests,
        tarballBytesDownloaded: registryBytes,
      },
    }, {
      name: 'Remote tier: warm-ish CI runner (half of the files already in its store)',
      figures: [o.figure('cas-store from the remote', warmRun.ms, fileCount, totalBytes)],
      extra: {
        remoteRequests: warmStats.requests.GET,
        bytesDownloaded: warmStats.bytesDownloaded,
        bytesLacked: lackedBytes,
        tarballPathWouldDownload: registryBytes,
      },
    }]
    const targets = [
      o.target('remote tier: cold runner from the remote vs from tarballs', '>= 1.0x', fromTarballs.ms / fromRemote.ms, x => x >= 1),
      o.target('remote tier: warm-ish runner bytes downloaded / bytes lacked', '<= 1.1x', warmStats.bytesDownloaded / lackedBytes, x => x <= 1.1),
    ]
    return { scenarios, targets }
  } finally {
    await nginx.stop()
    await registry.close()
  }
}
