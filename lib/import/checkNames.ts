import { NameCollisionError } from '../errors.js'
import { assertSafePackageFileName } from '../pkgIndex/fileName.js'

/**
 * Holds every file name of a package to the shared name rule (`assertSafePackageFileName`: relative, no `..`, no
 * NUL, no backslash or drive) before anything is written, even before a complete target is kept: a hostile index
 * is refused whole, whatever stands at the target.
 *
 * Why this is enough to keep every write inside the target: the import builds the package in a folder it has just
 * made itself, so a name that passes cannot climb out (no `..`) nor follow a symlink (there is none in a fresh
 * folder), and the folder then moves to the target by `rename`.
 */
export function checkNames (names: Iterable<string>): void {
  for (const name of names) assertSafePackageFileName(name)
}

/**
 * The folders a package needs, parents before children, so each is made with one plain `mkdir`. Throws
 * `ERR_CAS_NAME_COLLISION` when a name is also another name's folder (`a` and `a/b`): both cannot exist.
 */
export function foldersOf (names: Iterable<string>): string[] {
  const files = new Set<string>()
  const dirs = new Set<string>()
  for (const name of names) {
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
  // Already parents first: a folder enters the set only after its parent, which is a shorter prefix of the same
  // name (or entered earlier through another name).
  return [...dirs]
}
