import { execSync } from 'node:child_process'
import crypto from 'node:crypto'
import fs from 'node:fs'
import path from 'node:path'
import { createRequire } from 'node:module'
import { openStore, type FileInfo, type PackageIndex } from './cas.js'

const require = createRequire(import.meta.url)
// Peers, loaded from their published packages (dev dependencies): pnpm 10's store library and npm's cacache.
const pnpmCafs = require('@pnpm/store.cafs') as {
  createCafs: (dir: string) => {
    addFilesFromDir: (dir: string) => { filesIndex: Record<string, PnpmFile> }
    addFilesFromTarball: (tarball: Buffer, readManifest?: boolean) => { filesIndex: Record<string, PnpmFile> }
  }
  checkPkgFilesIntegrity: (dir: string, index: { files: Record<string, PnpmFile> }) => { passed: boolean }
}
const cacache = require('cacache') as {
  put: (cache: string, key: string, data: Buffer) => Promise<string>
  verify: (cache: string) => Promise<{ verifiedContent: number, totalEntries: number }>
}

export interface PnpmFile { integrity: string, mode: number, size: number, checkedAt?: number }

/** cas-store: addFilesFromDir into a freshly opened store (no in-memory state carried over). */
export async function casAdd (
  storeDir: string, corpus: string, options: { noLocks?: boolean } = {},
): Promise<PackageIndex> {
  const store = await openStore(storeDir, { _unsafeNoLocks: options.noLocks === true })
  try {
    return await store.addFilesFromDir(corpus)
  } finally {
    await store.close()
  }
}

/**
 * cas-store: adds `first` into a fresh store (untimed: it starts the store's threads and warms their code), then
 * `corpus` into the same open store; returns the second add's time (ms).
 */
export async function casAddAfter (storeDir: string, first: string, corpus: string): Promise<number> {
  const store = await openStore(storeDir)
  try {
    await store.addFilesFromDir(first)
    execSync('sync') // as before every timing: the first add's writeback must not land in the second's time
    const started = performance.now()
    await store.addFilesFromDir(corpus)
    return performance.now() - started
  } finally {
    await store.close()
  }
}

/** cas-store: checkPkgFilesIntegrity on a copy of `index` with checkedAt fresh (fast path) or 0 (re-hash all). */
export async function casVerify (storeDir: string, index: PackageIndex, fresh: boolean): Promise<boolean> {
  const files = new Map<string, FileInfo>()
  for (const [name, info] of index.files) files.set(name, { ...info, checkedAt: fresh ? info.checkedAt : 0 })
  const store = await openStore(storeDir)
  try {
    return (await store.checkPkgFilesIntegrity({ algo: 'sha512', files })).passed
  } finally {
    await store.close()
  }
}

/** pnpm 10: createCafs(root).addFilesFromDir, a new instance each time so its in-memory locker starts empty. */
export function pnpmAdd (storeRoot: string, corpus: string): Record<string, PnpmFile> {
  return pnpmCafs.createCafs(storeRoot).addFilesFromDir(corpus).filesIndex
}

export function pnpmVerify (storeRoot: string, files: Record<string, PnpmFile>, fresh: boolean): boolean {
  const copy: Record<string, PnpmFile> = {}
  for (const [name, info] of Object.entries(files)) {
    copy[name] = { integrity: info.integrity, mode: info.mode, size: info.size, checkedAt: fresh ? info.checkedAt : 0 }
  }
  return pnpmCafs.checkPkgFilesIntegrity(storeRoot, { files: copy }).passed
}

/** The floor: walk, read, sha512, write a temp file, rename; no existence check, no lock, no verification. */
export function rawAdd (storeRoot: string, corpus: string): string[] {
  const out: string[] = []
  for (let i = 0; i < 256; i++) fs.mkdirSync(path.join(storeRoot, 'files', i.toString(16).padStart(2, '0')), { recursive: true })
  let n = 0
  const walk = (dir: string): void => {
    for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
      const full = path.join(dir, entry.name)
      if (entry.isDirectory()) { walk(full); continue }
      if (!entry.isFile()) continue
      const data = fs.readFileSync(full)
      const hex = crypto.createHash('sha512').update(data).digest('hex')
      const target = path.join(storeRoot, 'files', hex.slice(0, 2), hex.slice(2))
      const temp = `${target}.${process.pid}.${n++}`
      fs.writeFileSync(temp, data)
      fs.renameSync(temp, target)
      out.push(target)
    }
  }
  walk(corpus)
  return out
}

/** The stat floor: one statSync per content path. */
export function rawStat (paths: string[]): number {
  let bytes = 0
  for (const p of paths) bytes += fs.statSync(p).size
  return bytes
}

/** cacache: put every file (16 in flight), keyed by its path in the corpus. */
export async function cacachePut (cacheDir: string, files: Array<{ path: string, rel: string }>): Promise<void> {
  let next = 0
  await Promise.all(Array.from({ length: 16 }, async () => {
    while (next < files.length) {
      const file = files[next++]!
      await cacache.put(cacheDir, file.rel, fs.readFileSync(file.path))
    }
  }))
}

export async function cacacheVerify (cacheDir: string): Promise<number> {
  return (await cacache.verify(cacheDir)).verifiedContent
}

/**
 * cas-store: addFilesFromTarball of every tarball (read from disk, checked against its integrity as it streams
 * through the parser), `jobs` packages in flight, as an installer would run them.
 */
export async function casAddTarballs (
  storeDir: string, tarballs: Array<{ path: string, integrity: string }>, jobs = 4,
): Promise<number> {
  const store = await openStore(storeDir)
  let files = 0
  let next = 0
  try {
    await Promise.all(Array.from({ length: jobs }, async () => {
      while (next < tarballs.length) {
        const tarball = tarballs[next++]!
        const index = await store.addFilesFromTarball(fs.readFileSync(tarball.path), { integrity: tarball.integrity })
        files += index.files.size
      }
    }))
  } finally {
    await store.close()
  }
  return files
}

/** pnpm 10: createCafs(root).addFilesFromTarball of every tarball (synchronous: gunzip, parse, write each file). */
export function pnpmAddTarballs (storeRoot: string, tarballs: Array<{ path: string }>): number {
  const cafs = pnpmCafs.createCafs(storeRoot)
  let files = 0
  for (const tarball of tarballs) {
    files += Object.keys(cafs.addFilesFromTarball(fs.readFileSync(tarball.path), true).filesIndex).length
  }
  return files
}
