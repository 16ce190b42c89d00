/**
 * Runs `fn` over `items` with at most `limit` calls in flight, in order of the list. The first error stops new
 * calls from starting, waits for those already running, and is thrown (later errors are dropped: one cause is
 * enough, and a package that failed once falls back as a whole).
 */
export async function mapPool<T, R> (items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array<R>(items.length)
  let next = 0
  let failure: { error: unknown } | undefined
  const worker = async (): Promise<void> => {
    while (failure === undefined && next < items.length) {
      const i = next++
      try {
        results[i] = await fn(items[i]!)
      } catch (error) {
        failure ??= { error }
      }
    }
  }
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker))
  if (failure !== undefined) throw failure.error
  return results
}
