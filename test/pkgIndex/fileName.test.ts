import { expect, it } from 'vitest'
import { assertSafePackageFileName, isSafePackageFileName } from '../../lib/index.js'

/** The rule in its plainest words; the library's one-pass loop must agree with it on every input. */
function reference (name: string): boolean {
  if (name.length === 0 || name.includes('\0') || name.includes('\\')) return false
  if (name.startsWith('/') || /^[a-zA-Z]:/.test(name)) return false
  return name.split('/').every(part => part !== '' && part !== '.' && part !== '..')
}

it('agrees with the plain formulation of the rule on 200,000 generated names', () => {
  const alphabet = ['a', 'Z', '.', '/', '\\', '\0', ':', '-', 'é', ' ', '..']
  let seed = 7
  const random = (): number => { seed = (seed * 1103515245 + 12345) % 2 ** 31; return seed / 2 ** 31 }
  let safe = 0
  for (let i = 0; i < 200_000; i++) {
    let name = ''
    const length = Math.floor(random() * 8)
    for (let j = 0; j < length; j++) name += alphabet[Math.floor(random() * alphabet.length)]
    expect(isSafePackageFileName(name), JSON.stringify(name)).toBe(reference(name))
    if (reference(name)) safe++
  }
  expect(safe).toBeGreaterThan(10_000) // both verdicts are well represented
})

it.each([
  ['package.json', true], ['lib/index.js', true], ['.bin/x', true], ['a/.b', true], ['...', true], ['a..b', true],
  ['', false], ['/abs', false], ['../x', false], ['a/../../b', false], ['a/./b', false], ['a//b', false], ['a/', false],
  ['a\0b', false], ['a\\b', false], ['C:/x', false], ['c:x', false], ['.', false], ['..', false],
])('%j is safe: %s', (name, safe) => {
  expect(isSafePackageFileName(name)).toBe(safe)
  if (!safe) {
    expect(() => { assertSafePackageFileName(name) }).toThrow(expect.objectContaining({ code: 'ERR_CAS_UNSAFE_PATH' }))
  }
})
