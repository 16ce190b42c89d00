import crypto from 'node:crypto'
import ssri from 'ssri'
import { IntegrityError, InvalidArgumentError } from '../errors.js'

/**
 * Algorithms a tarball's integrity may name, strongest first. sha512 is what lockfiles carry today; sha256 and
 * sha1 still appear in old lockfiles (npm 5 and earlier wrote sha1), so they are checked rather than refused.
 */
const ACCEPTED = ['sha512', 'sha384', 'sha256', 'sha1'] as const

/** Hashes bytes as they stream past and checks them, at the end, against an SRI string. */
export interface IntegrityHasher {
  /** The algorithm checked: the strongest one the SRI string names. */
  readonly algorithm: string
  update: (chunk: Uint8Array) => void
  /** Throws `ERR_CAS_INTEGRITY` (expected and actual as SRI strings) unless the bytes seen match. */
  verify: (what: string, outcome: string) => void
}

/**
 * A hasher for `integrity` (an SRI string such as a lockfile's `sha512-…`). When the string names several
 * algorithms, the strongest is checked, never a weaker one: an attacker who can forge a sha1 must not get past a
 * string that also pins sha512. Throws `ERR_CAS_INVALID_ARGUMENT` when it names none of sha512/384/256/1.
 */
export function integrityHasher (integrity: string): IntegrityHasher {
  const parsed = typeof integrity === 'string'
    ? ssri.parse(integrity) as unknown as Record<string, Array<{ digest: string }> | undefined> | null
    : null
  const algorithm = ACCEPTED.find(name => (parsed?.[name]?.length ?? 0) > 0)
  if (algorithm === undefined) {
    throw new InvalidArgumentError(
      `integrity ${JSON.stringify(String(integrity).slice(0, 200))} is not an SRI string naming sha512 (or ` +
      'sha384, sha256, sha1 as old lockfiles do). Pass the tarball\'s integrity as the lockfile has it: ' +
      '"sha512-<base64>".')
  }
  const expected = parsed![algorithm]!.map(hash => hash.digest)
  const hash = crypto.createHash(algorithm)
  return {
    algorithm,
    update: chunk => { hash.update(chunk) },
    verify: (what, outcome) => {
      const actual = hash.digest('base64')
      if (!expected.includes(actual)) {
        throw new IntegrityError(`${algorithm}-${expected[0]!}`, `${algorithm}-${actual}`, what, outcome)
      }
    },
  }
}
