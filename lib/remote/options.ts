import { InvalidArgumentError } from '../errors.js'

/** The remote cache a store reads through and writes behind to: `openStore(dir, { remote })`. */
export interface RemoteOptions {
  /** Base URL of the cache, e.g. `https://cache.example/cas` (a WebDAV location: GET, HEAD and PUT). */
  url: string
  /** Extra request headers (e.g. a custom auth scheme). Never logged nor put in error messages. */
  headers?: Record<string, string>
  /** Sent as `Authorization: Bearer <token>`. Never logged nor put in error messages. */
  token?: string
  /** False for read-only consumers (e.g. CI jobs of pull requests from forks): nothing is ever uploaded. */
  upload?: boolean
  /** Requests in flight at once against the remote, all packages together. Default 16. */
  concurrency?: number
  /** A request with no answer, or no body byte, for this long fails (the remote counts as down). Default 30 000. */
  timeoutMs?: number
  /** How long `close()` waits for pending background uploads before abandoning them. Default 60 000. */
  closeTimeoutMs?: number
}

/** {@link RemoteOptions} checked and with defaults filled in. Internal. */
export interface ResolvedRemote {
  /** The base URL without credentials and without a trailing slash; safe to print. */
  baseUrl: string
  headers: Record<string, string>
  upload: boolean
  concurrency: number
  timeoutMs: number
  closeTimeoutMs: number
}

/**
 * Checks the remote options. A URL carrying `user:password@` has them moved into a Basic `Authorization` header
 * (fetch refuses such URLs, and a URL is what error messages show).
 */
export function resolveRemote (remote: string | RemoteOptions): ResolvedRemote {
  const options: RemoteOptions = typeof remote === 'string' ? { url: remote } : remote
  let url: URL
  try {
    url = new URL(options.url)
  } catch {
    throw new InvalidArgumentError(`remote: ${JSON.stringify(String(options.url).replace(/\/\/[^@/]*@/, '//…@'))} is not a URL; pass e.g. "https://cache.example/cas".`)
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new InvalidArgumentError(`remote: ${url.protocol} URLs are not supported; use http: or https:.`)
  }
  const headers: Record<string, string> = {}
  for (const [name, value] of Object.entries(options.headers ?? {})) headers[name.toLowerCase()] = value
  if (url.username !== '' || url.password !== '') {
    headers.authorization ??= 'Basic ' + Buffer.from(`${decodeURIComponent(url.username)}:${decodeURIComponent(url.password)}`).toString('base64')
    url.username = ''
    url.password = ''
  }
  if (options.token !== undefined && options.token !== '') headers.authorization = `Bearer ${options.token}`
  const positive = (value: number | undefined, fallback: number, name: string): number => {
    if (value === undefined) return fallback
    if (!Number.isFinite(value) || value <= 0) throw new InvalidArgumentError(`remote: ${name} must be a positive number, got ${String(value)}`)
    return value
  }
  url.search = ''
  url.hash = ''
  return {
    baseUrl: url.toString().replace(/\/+$/, ''),
    headers,
    upload: options.upload !== false,
    concurrency: Math.floor(positive(options.concurrency, 16, 'concurrency')),
    timeoutMs: positive(options.timeoutMs, 30_000, 'timeoutMs'),
    closeTimeoutMs: positive(options.closeTimeoutMs, 60_000, 'closeTimeoutMs'),
  }
}
