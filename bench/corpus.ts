import crypto from 'node:crypto'
import fs from 'node:fs'
import path from 'node:path'

/** A deterministic pseudo-random generator (mulberry32), so a seed always gives the same corpus. */
function rng (seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6D2B79F5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

/**
 * File sizes shaped like a real node_modules tree (measured on real installs: median ~650 B, p90 ~5 KB):
 * log-normal with median 650 and sigma chosen so p90 ≈ 5.3 KB, plus a long tail of a few files of 1-6 MB.
 */
export function corpusSizes (count: number, seed: number): number[] {
  const random = rng(seed)
  const sigma = Math.log(5300 / 650) / 1.2816
  return Array.from({ length: count }, (_, i) => {
    if (i % 2000 === 1999) return Math.floor(1_000_000 + random() * 5_000_000)
    const u1 = Math.max(random(), 1e-12)
    const u2 = random()
    const normal = Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2)
    return Math.max(1, Math.min(900_000, Math.round(650 * Math.exp(sigma * normal))))
  })
}

/**
 * Writes the corpus under `dir` (packages of ~40 files in nested folders, one in eight executable) unless a
 * complete copy for the same (count, seed) is already there. Returns the corpus folder.
 */
export function generateCorpus (dir: string, count: number, seed: number): string {
  const root = path.join(dir, `corpus-${count}-${seed}`)
  // The marker sits beside the corpus, not in it: every system under test adds the whole folder.
  const done = `${root}.complete`
  if (fs.existsSync(done)) return root
  fs.rmSync(root, { recursive: true, force: true })
  const sizes = corpusSizes(count, seed)
  const random = rng(seed + 1)
  let block = crypto.createHash('sha512').update(String(seed)).digest()
  sizes.forEach((size, i) => {
    const pkg = `pkg-${Math.floor(i / 40)}`
    const sub = ['lib', 'dist', 'src/utils', ''][Math.floor(random() * 4)]!
    const file = path.join(root, pkg, sub, `file-${i}.js`)
    fs.mkdirSync(path.dirname(file), { recursive: true })
    const data = Buffer.alloc(size)
    for (let o = 0; o < size; o += block.length) {
      block = crypto.createHash('sha512').update(block).digest()
      block.copy(data, o)
    }
    fs.writeFileSync(file, data, { mode: i % 8 === 0 ? 0o755 : 0o644 })
  })
  fs.writeFileSync(done, '')
  return root
}

/** Every regular file under `root`, with its size and mode. */
export function listCorpus (root: string): Array<{ path: string, rel: string, size: number, mode: number }> {
  const out: Array<{ path: string, rel: string, size: number, mode: number }> = []
  const walk = (dir: string, prefix: string): void => {
    for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
      const full = path.join(dir, entry.name)
      const rel = prefix === '' ? entry.name : `${prefix}/${entry.name}`
      if (entry.isDirectory()) walk(full, rel)
      else if (entry.isFile()) {
        const stat = fs.statSync(full)
        out.push({ path: full, rel, size: stat.size, mode: stat.mode })
      }
    }
  }
  walk(root, '')
  return out
}
