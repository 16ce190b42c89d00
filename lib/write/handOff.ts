/**
 * A locked step of the writer that a store thread leaves to the calling thread (see `threads/threadPool.ts`):
 * store threads take no OS lock, so the two steps of `ensureFile` that need the path lock, the rename into place
 * (`finalize`) and the claim of content found in place (`claimExisting`), are recorded in the context's `handOff`
 * list instead, and the calling thread runs them, under its own path lock, with `completeStep`. Until then a
 * handed-off file exists only as a temp file (or as content already in place), never half-written at its path.
 */
export type LockedStep =
  | { kind: 'rename', temp: string, target: string, digest: string, size: number }
  | { kind: 'claim', target: string, digest: string }
