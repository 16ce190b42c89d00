/**
 * A compact name for a content file in store-wide sets (what the indexes reference, what was verified): the first
 * 128 bits of its digest and its exec flag. A store of a million files then costs tens of MB to scan, not hundreds;
 * a 128-bit prefix of sha512 does not collide by chance.
 */
export function contentKey (digest: string, exec: boolean): string {
  return exec ? digest.slice(0, 32) + 'x' : digest.slice(0, 32)
}
