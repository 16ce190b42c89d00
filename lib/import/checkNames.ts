import { NameCollisionError } from '../errors.js'
import { assertSafePackageFileName } from '../pkgIndex/fileName.js'

/**
 * Holds every file name of a package to the shared name rule (`assertSafePackageFileName`: relative, no `..`, no
 * NUL, no backslash or drive) before anything is written, and returns the folders the package needs, parents
 * before children, so each can be made with one plain `mkdir`.
 *
 * Why all names first: a hostile index must be refused whole, with nothing created, rather than half imported.
 * Because the import builds the package in a folder it has just made itself, a name that passes this rule cannot
 * reach outside it: there is no `..` to climb with, and no symlink inside a fresh folder to follow.
 */
export function checkNames (names: Iterable<string>): string[] {
  const files = new Set<string>()
  const dirs = new Set<string>()
  for (const name of names) {
    assertSafePackageFileName(name)
    files.add(name)
    for (let slash = name.indexOf('/'); slash !== -1; slash = name.indexOf('/', slash + 1)) {
      dirs.add(name.slice(0, slash))
    }
  }
  for (const dir of dirs) {
    if (files.has(dir)) {
      const child = [...files].find(f => f.startsWith(dir + '/'))!
      throw new NameCollisionError([dir, child], `${JSON.stringify(dir)} would have to be a file and a folder at once`)
    }
  }
  // A Set keeps insertion order and every parent was added before its children, but a parent first seen through a
  // deeper name comes after shallower unrelated folders; sorting by depth is what mkdir needs.
  return [...dirs].sort((a, b) => depth(a) - depth(b))
}

function depth (dir: string): number {
  let n = 0
  for (let i = dir.indexOf('/'); i !== -1; i = dir.indexOf('/', i + 1)) n++
  return n
}
