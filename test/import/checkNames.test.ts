import { describe, expect, it } from 'vitest'
import { NameCollisionError } from '../../lib/index.js'
import { foldersOf } from '../../lib/import/checkNames.js'

describe('foldersOf', () => {
  it('lists every folder a package needs once, each after its parent', () => {
    const dirs = foldersOf(['b/f.js', 'package.json', 'a/b/c/d.js', 'a/x.js', 'b/c/e.js'])
    expect([...dirs].sort()).toEqual(['a', 'a/b', 'a/b/c', 'b', 'b/c'])
    for (const dir of dirs) {
      const parent = dir.slice(0, dir.lastIndexOf('/'))
      if (parent !== '') expect(dirs.indexOf(parent)).toBeLessThan(dirs.indexOf(dir))
    }
  })

  it('refuses a name that is also another name\'s folder, naming both', () => {
    // An unrelated name first: the error must name the file inside the colliding folder, not any file.
    let err: unknown
    try {
      foldersOf(['package.json', 'lib', 'lib/deep/a.js'])
    } catch (e) {
      err = e
    }
    expect(err).toBeInstanceOf(NameCollisionError)
    expect(err).toMatchObject({ code: 'ERR_CAS_NAME_COLLISION', names: ['lib', 'lib/deep/a.js'] })
  })
})
