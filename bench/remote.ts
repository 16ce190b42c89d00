// The remote-tier scenarios (issue 15): a CI runner filling its store from the team's nginx cache, against the
// same runner filling it from the registry's tarballs; and a warm-ish runner, whose store holds half the files,
// counting the bytes it downloads against the bytes it lacked. Every runner is a child process.
import crypto from 'node:crypto'
import fs from 'node:fs'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import path from 'node:path'
import { openStore } from '../lib/index.js'
import { startNginx } from '../test/helpers/nginx.js'
import { makeTarball } from '../test/helpers/tarball.js'
import type { Figure, Scenario, Target } from './report.js'

/** A corpus file as `listCorpus` gives it. */
interface CorpusFile { path: string, rel: string, size: number, mode: number }

interface Pkg { pkgId: string, integrity: string, file: string, tgz: Buffer, files: Array<{ data: Buffer, mode: number }> }

/** Options of {@link remoteScenarios}. */
export interface RemoteBenchOptions {
  files: CorpusFile[]
  packages: number
  freshDir: (name: string) => string
  runChild: (script: string, args: string[]) => Promise<Record<string, unknown>>
  timed: (fn: () => unknown) => Promise<number>
  progress: (line: string) => void
  figure: (system: string, ms: number, count?: number, size?: number) => Figure
  target: (name: string, goal: string, actual: number, met: (x: number) => boolean, unit?: string) => Target
}

/** Packs the corpus into `count` npm-style tarballs (files dealt out in order, plus a package.json each). */
function packCorpus (files: CorpusFile[], count: number): Pkg[] {
  const per = Math.ceil(files.length / count)
  const out: Pkg[] = []
  for (let p = 0; p * per < files.length; p++) {
    const name = `bench-pkg-${p}`
    const manifest = Buffer.from(JSON.stringify({ name, version: '1.0.0' }))
    const members = files.slice(p * per, (p + 1) * per).map(f => ({ rel: f.rel, data: fs.readFileSync(f.path), mode: f.mode & 0o777 }))
    const tgz = makeTarball([{ path: 'package/package.json', body: manifest },
      ...members.map(m => ({ path: `package/${m.rel}`, body: m.data, mode: m.mode }))])
    out.push({
      pkgId: `${name}@1.0.0`,
      integrity: 'sha512-' + crypto.createHash('sha512').update(tgz).digest('base64'),
      file: `${name}-1.0.0.tgz`,
      tgz,
      files: [{ data: manifest, mode: 0o644 }, ...members.map(m => ({ data: m.data, mode: m.mode }))],
    })
  }
  return out
}

/** A registry stand-in: serves the tarballs, counts requests and bytes. */
async function startRegistry (packages: Pkg[]): Promise<{ origin: string, requests: () => number, bytes: () => number, close: () => Promise<void> }> {
  const byName = new Map(packages.map(p => [p.file, p.tgz]))
  let requests = 0
  let bytes = 0
  const server = http.createServer((req, res) => {
    requests++
    const body = byName.get((req.url ?? '/').slice(1))
    if (body === undefined) {
      res.writeHead(404).end()
      return
    }
    bytes += body.length
    res.writeHead(200, { 'content-length': body.length }).end(body)
  })
  // Keep idle connections open longer than the client does: a server closing one just as the client reuses it
  // fails that download with "other side closed" (seen on a loaded machine, where timers fire late).
  server.keepAliveTimeout = 60_000
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  return {
    origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    requests: () => requests,
    bytes: () => bytes,
    close: async () => {
      server.closeAllConnections()
      await new Promise(resolve => server.close(resolve))
    },
  }
}

/**
 * Runs the remote-tier scenarios and returns them with their targets: the cold runner from the remote no slower
 * than from tarballs, and the warm-ish runner downloading at most 1.1x the bytes of the files it lacks.
 */
export async function remoteScenarios (o: RemoteBenchOptions): Promise<{ scenarios: Scenario[], targets: Target[] }> {
  o.progress(`remote tier: packing ${o.packages} packages`)
  const packages = packCorpus(o.files, o.packages)
  const registry = await startRegistry(packages)
  const nginx = await startNginx()
  try {
    const listFile = path.join(o.freshDir('remote-list'), 'packages.json')
    fs.mkdirSync(path.dirname(listFile), { recursive: true })
    fs.writeFileSync(listFile, JSON.stringify(packages.map(p => ({ integrity: p.integrity, pkgId: p.pkgId, url: `${registry.origin}/${p.file}` }))))
    const jobs = '16'
    const run = async (label: string, storeDir: string, remote: string, upload: boolean): Promise<Record<string, unknown> & { ms: number }> => {
      o.progress(`remote tier: ${label}`)
      let result: Record<string, unknown> = {}
      await o.timed(async () => { result = await o.runChild('remoteFill.ts', [storeDir, listFile, remote, String(upload), jobs]) })
      const errors = [...(result.errors as string[] | undefined) ?? [`child failed: ${String(result.failure)}`], ...(result.remoteErrors as string[] | undefined) ?? []]
      if (errors.length > 0) throw new Error(`${label}: ${errors.slice(0, 3).join('; ')}`)
      return result as Record<string, unknown> & { ms: number }
    }

    // Seed the team cache: one runner installs from the registry and uploads behind itself.
    await run('seeding the remote (install from tarballs, upload)', o.freshDir('remote-seed'), nginx.url, true)
    const registryBytes = registry.bytes()

    // Cold runners: an empty store from tarballs, and an empty store from the remote (registry untouched).
    const beforeTar = registry.requests()
    const fromTarballs = await run('cold runner from tarballs', o.freshDir('remote-cold-tar'), '-', false)
    const tarballRequests = registry.requests() - beforeTar
    const beforeRemote = registry.requests()
    const fromRemote = await run('cold runner from the remote', o.freshDir('remote-cold-remote'), nginx.url, false)
    if (registry.requests() !== beforeRemote) throw new Error('the cold runner from the remote asked the registry')
    const remoteStats = fromRemote.stats as { requests: { GET: number, HEAD: number, PUT: number }, bytesDownloaded: number }

    // Warm-ish runner: half of the distinct files already in its store (every other one), no index.
    const warmDir = o.freshDir('remote-warm')
    const distinct = new Map<string, { data: Buffer, mode: number }>()
    for (const p of packages) for (const f of p.files) distinct.set(crypto.createHash('sha512').update(f.data).digest('hex') + (f.mode & 0o111 ? 'x' : ''), f)
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

    const totalBytes = packages.reduce((n, p) => n + p.files.reduce((m, f) => m + f.data.length, 0), 0)
    const fileCount = packages.reduce((n, p) => n + p.files.length, 0)
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
