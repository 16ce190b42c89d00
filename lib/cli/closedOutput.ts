/** True for the error a write gets when the reader of our output went away (`cas add … | head -2`). */
export function isClosedOutput (err: unknown): boolean {
  const code = (err as { code?: unknown } | null | undefined)?.code
  return code === 'EPIPE' || code === 'ERR_STREAM_DESTROYED'
}

/**
 * Ends the process quietly with exit 0 when the reader of `stream` closes it (`| head`): what it read was what it
 * wanted, as with any Unix filter. Leaving at once is safe for every command: each writes its result only after its
 * store work is done (and `cat` only reads). Any other write error on the stream is said on stderr, exit 2.
 */
export function exitQuietlyWhenOutputCloses (
  stream: NodeJS.WritableStream, stderr: NodeJS.WritableStream = process.stderr,
  exit: (code: number) => void = code => process.exit(code),
): void {
  stream.on('error', (err: unknown) => {
    if (isClosedOutput(err)) return exit(0)
    stderr.write(`cas: cannot write the output: ${(err as Error)?.message ?? String(err)}\n`)
    exit(2)
  })
}

/**
 * A stderr nobody reads any more (`cas … 2>&1 | head`, a closed terminal) must change neither what the command
 * does nor its exit code: what is written to it after that is dropped. There is nowhere left to report a failed
 * write to it, so every write error on it is dropped too (unhandled, it ended the process with exit 1).
 */
export function dropErrorOutputWhenClosed (stream: NodeJS.WritableStream): void {
  stream.on('error', () => {})
}
