/**
 * What cas-store reads of an abort signal: only `aborted`, polled between units of work. Declared here rather
 * than taken from Node's or the DOM's `AbortSignal` type so that the published types compile for a consumer that
 * has neither `@types/node` nor the DOM library; both real `AbortSignal`s fit it.
 */
export interface AbortSignalLike {
  readonly aborted: boolean
}
