// indexContent: every content file an index names, cached builds' outputs (pnpm sideEffects) included. Prune
// removes what this does not list, so each shape pnpm has written must be read, and an unknown one must throw.
import { describe, expect, it } from 'vitest'
import { hexToSri } from '../../lib/index.js'
import { indexContent } from '../../lib/maint/indexContent.js'
import type { PackageIndex } from '../../lib/types.js'
import { sha512Hex } from '../helpers/content.js'

const own = { digest: sha512Hex('own'), mode: 0o644, size: 3 }
const built = { digest: sha512Hex('built'), mode: 0o755, size: 5 }

function names (sideEffects: unknown): string[] {
  const index = { algo: 'sha512', files: new Map([['index.js', own]]), sideEffects } as unknown as PackageIndex
  return [...indexContent(index)].map(([name, info]) => `${name} ${info.digest === built.digest ? 'built' : info.digest}`)
}

describe('indexContent', () => {
  it('no sideEffects (absent or null): the package\'s own files only', () => {
    expect(names(undefined)).toEqual([`index.js ${own.digest}`])
    expect(names(null)).toEqual([`index.js ${own.digest}`])
  })

  it('pnpm 10+ { added, deleted }, as an object or a Map: the added files, named under their cache key', () => {
    const expected = [`index.js ${own.digest}`, 'sideEffects[linux]/build/addon.node built']
    expect(names({ linux: { added: { 'build/addon.node': built }, deleted: ['x'] } })).toEqual(expected)
    expect(names(new Map([['linux', new Map<string, unknown>([['added', new Map([['build/addon.node', built]])]])]]))).toEqual(expected)
    expect(names({ linux: { added: { 'build/addon.node': built } } })).toEqual(expected)
  })

  it('an entry that only deletes files adds nothing (its `added` is absent)', () => {
    expect(names({ linux: { deleted: ['index.js'] } })).toEqual([`index.js ${own.digest}`])
  })

  it('older stores kept the added files map itself; v10 JSON names them by SRI integrity', () => {
    expect(names({ linux: { 'build/addon.node': built } })).toEqual([`index.js ${own.digest}`, 'sideEffects[linux]/build/addon.node built'])
    const v10 = { integrity: hexToSri(built.digest), mode: built.mode, size: built.size }
    expect(names({ linux: { added: { 'build/addon.node': v10 } } })).toEqual([`index.js ${own.digest}`, 'sideEffects[linux]/build/addon.node built'])
    expect(names({ linux: { added: {} } })).toEqual([`index.js ${own.digest}`])
  })

  it('a shape it does not know throws (prune must not guess what is unused)', () => {
    expect(() => names('not a map')).toThrow('its sideEffects is not a map')
    expect(() => names({ linux: null })).toThrow('its sideEffects entry "linux" is malformed')
    expect(() => names({ linux: 'text' })).toThrow('its sideEffects entry "linux" is malformed')
    expect(() => names({ linux: { added: { 'a.node': { digest: 'nope', mode: 0o644, size: 1 } } } })).toThrow()
  })
})
