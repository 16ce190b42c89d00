// The names of an import's folders next to its target: what a cleaner later recognises as a killed import's own
// (`maint/importLeftovers.ts`), so every other shape must be refused.
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { asidePathOf, stageOwner, stagePathFor } from '../../lib/import/stageNames.js'
import { ownerId } from '../../lib/layout/tempName.js'

describe('import folder names', () => {
  it('a stage is a hidden sibling of the target carrying this thread\'s owner id; never the same twice', () => {
    const target = path.join('/nm', '@scope', 'pkg')
    const a = stagePathFor(target)
    const b = stagePathFor(target)
    expect(a).not.toBe(b)
    expect(path.dirname(a)).toBe('/nm/@scope')
    expect(path.basename(a)).toMatch(/^\.pkg\.cas-import-\d+-\d+-[0-9a-z]+-[0-9a-f]{16}$/)
    expect(stageOwner(a)).toBe(ownerId())
  })

  it('the old target goes aside under the stage\'s own name and id', () => {
    expect(asidePathOf('/nm/.pkg.cas-import-1-0-a-ff')).toBe('/nm/.pkg.cas-old-1-0-a-ff')
    expect(asidePathOf('/nm/.a.cas-import-b.cas-import-1-0-a-ff')).toBe('/nm/.a.cas-import-b.cas-old-1-0-a-ff')
    expect(() => asidePathOf('/nm/pkg')).toThrow(expect.objectContaining({ code: 'ERR_CAS_INVALID_ARGUMENT' }))
  })

  it('stageOwner accepts `.<name>.cas-import-<unique id>` only', () => {
    expect(stageOwner('/nm/.pkg.cas-import-12-3-1a-00ff')).toBe('12-3-00ff')
    for (const name of [
      'pkg', '/home/user', '.pkg.cas-old-12-3-1a-00ff', 'pkg.cas-import-12-3-1a-00ff', '..cas-import-12-3-1a-00ff',
      '.cas-import-12-3-1a-00ff', '.pkg.cas-import-12-3-1a', '.pkg.cas-import-x-3-1a-ff',
      '.pkg.cas-import-12-3-1a-00ff.evil',
    ]) {
      expect(stageOwner(name), name).toBeUndefined()
    }
  })
})
