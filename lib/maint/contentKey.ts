/**
 * A compact name for a content file in store-wide sets (what the indexes reference, what was verified): the first
 * 128 bits of its digest and its exec flag. A store of a million files then costs tens of MB to scan, not hundreds;
 * a 128-bit prefix of sha512 does not collide by chance.
 */
export function contentKey (digest: string, exec: boolean): string {
  return exec ? digest.slice(0, 32) + 'x' : digest.slice(0, 32)
}

/**
 * {@link contentKey} of the content file named `name` in bucket folder `bucket` (`files/<bucket>/<name>`), without
 * rebuilding its digest: the bucket is the digest's first 2 hex characters, the name starts with the next 126.
 */
export function contentKeyOfName (bucket: string, name: string, exec: boolean): string {
  return exec ? bucket + name.slice(0, 30) + 'x' : bucket + name.slice(0, 30)
}
