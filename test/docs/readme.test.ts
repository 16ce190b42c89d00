// The README ships in the package and is read from a clone: every path it points at must be in the repository.
import fs from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { expect, it } from 'vitest'

const repoRoot = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', '..')
const readme = fs.readFileSync(path.join(repoRoot, 'README.md'), 'utf8')

it('links and names no path outside the repository, and every relative link resolves', () => {
  // Markdown links, and paths quoted in backticks that climb out (`../shared/notes/…`).
  const links = [...readme.matchAll(/\]\(([^)\s]+)\)/g)].map(m => m[1]!).filter(l => !/^[a-z]+:|^#/.test(l))
  // (A bare `../x` is an example of a hostile name, not a path; a quoted file path like `../a/b.md` is a path.)
  const quoted = [...readme.matchAll(/`(\.\.\/[\w.-]+\/[^`\s]+\.\w+)`/g)].map(m => m[1]!)
  expect(quoted).toEqual([])
  for (const link of links) {
    const target = path.resolve(repoRoot, link.split('#')[0]!)
    expect(path.relative(repoRoot, target).startsWith('..'), link).toBe(false)
    expect(fs.existsSync(target), link).toBe(true)
  }
  expect(readme).not.toMatch(/\.\.\/shared\//)
})

it('names test files that exist', () => {
  for (const [, file] of readme.matchAll(/`(test\/[\w/.-]+\.ts)`/g)) expect(fs.existsSync(path.join(repoRoot, file!)), file).toBe(true)
})
