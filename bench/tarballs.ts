import crypto from 'node:crypto'
import fs from 'node:fs'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import path from 'node:path'
import zlib from 'node:zlib'
import { Header } from 'tar'

/** One packed package of the corpus. */
export interface BenchPackage {
  pkgId: string
  file: string
  integrity: string
}

/**
 * Packs the corpus (files in listing order) into npm-style tarballs of `perPackage` files each, plus a package.json
 * (`package/` top folder, gzipped), under `dir`, unless a complete set for the same corpus is already there.
 * 12,000 files at 24 per package make 500 packages, about the size of a real install.
 */
export function packCorpus (
  files: Array<{ path: string, rel: string, mode: number }>, dir: string, perPackage = 24,
): BenchPackage[] {
  const listFile = path.join(dir, 'packages.json')
  if (fs.existsSync(listFile)) return JSON.parse(fs.readFileSync(listFile, 'utf8')) as BenchPackage[]
  fs.rmSync(dir, { recursive: true, force: true })
  fs.mkdirSync(dir, { recursive: true })
  const packages: BenchPackage[] = []
  for (let start = 0, n = 0; start < files.length; start += perPackage, n++) {
    const name = `bench-pkg-${n}`
    const blocks: Buffer[] = []
    const add = (entryPath: string, body: Buffer, mode: number): void => {
      const header = new Header({ path: entryPath, mode, size: body.length, type: 'File', mtime: new Date(0), uid: 0, gid: 0 })
      const block = Buffer.alloc(512)
      header.encode(block, 0)
      blocks.push(block, body, Buffer.alloc((512 - (body.length % 512)) % 512))
    }
    add('package/package.json', Buffer.from(JSON.stringify({ name, version: '1.0.0' })), 0o644)
    for (const file of files.slice(start, start + perPackage)) add(`package/${file.rel}`, fs.readFileSync(file.path), file.mode & 0o777)
    blocks.push(Buffer.alloc(1024))
    const tgz = zlib.gzipSync(Buffer.concat(blocks))
    const file = `${name}-1.0.0.tgz`
    fs.writeFileSync(path.join(dir, file), tgz)
    packages.push({ pkgId: `${name}@1.0.0`, file, integrity: 'sha512-' + crypto.createHash('sha512').update(tgz).digest('base64') })
  }
  fs.writeFileSync(listFile, JSON.stringify(packages))
  return packages
}

/** A local registry for the tarballs: serves `dir/<file>`, counts requests per file. */
export interface BenchRegistry {
  origin: string
  hits: Map<string, number>
  close: () => Promise<void>
}

export async function startRegistry (dir: string): Promise<BenchRegistry> {
  const hits = new Map<string, number>()
  const server = http.createServer((req, res) => {
    const file = path.basename(decodeURIComponent(req.url ?? '/'))
    hits.set(file, (hits.get(file) ?? 0) + 1)
    const full = path.join(dir, file)
    fs.stat(full, (err, stat) => {
      if (err !== null || !file.endsWith('.tgz')) {
        res.writeHead(404).end()
        return
      }
      res.writeHead(200, { 'content-length': stat.size, 'content-type': 'application/octet-stream' })
      fs.createReadStream(full).pipe(res)
    })
  })
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  return {
    origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    hits,
    close: async () => {
      server.closeAllConnections()
      await new Promise(resolve => server.close(resolve))
    },
  }
}
