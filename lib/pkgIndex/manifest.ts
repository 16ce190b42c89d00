import type { FileInfo } from '../types.js'

/**
 * The package.json fields an installer needs after fetching (to link bins, run or skip install scripts, check
 * platforms, resolve dependencies), in the shape pnpm keeps in its index. The rest of package.json (readme text,
 * keywords…) is left out: it would be stored once per package for no reader.
 */
const INDEXED_FIELDS = [
  'name', 'version', 'bin', 'directories', 'dependencies', 'optionalDependencies', 'peerDependencies',
  'peerDependenciesMeta', 'bundledDependencies', 'bundleDependencies', 'engines', 'os', 'cpu', 'libc', 'scripts',
] as const

/** The indexed subset of a parsed package.json, or undefined when it is not a JSON object. */
export function indexedManifest (packageJson: unknown): Record<string, unknown> | undefined {
  if (packageJson === null || typeof packageJson !== 'object' || Array.isArray(packageJson)) return undefined
  const source = packageJson as Record<string, unknown>
  const manifest: Record<string, unknown> = {}
  for (const field of INDEXED_FIELDS) {
    if (source[field] !== undefined) manifest[field] = source[field]
  }
  return manifest
}

/** Parses package.json bytes into {@link indexedManifest}; undefined when they are not valid JSON. */
export function manifestFromBytes (bytes: Uint8Array): Record<string, unknown> | undefined {
  try {
    return indexedManifest(JSON.parse(Buffer.from(bytes).toString('utf8').replace(/^\uFEFF/, '')))
  } catch {
    return undefined
  }
}

/**
 * Whether installing the package runs code, by pnpm's rule: a preinstall, install or postinstall script, a
 * `binding.gyp` (npm runs node-gyp for it unasked), or files under `.hooks/`.
 */
export function requiresBuild (manifest: Record<string, unknown> | undefined, files: Map<string, FileInfo>): boolean {
  const scripts = manifest?.scripts as Record<string, unknown> | undefined
  if (scripts != null && typeof scripts === 'object' &&
      (Boolean(scripts.preinstall) || Boolean(scripts.install) || Boolean(scripts.postinstall))) return true
  if (files.has('binding.gyp')) return true
  for (const name of files.keys()) {
    if (name.startsWith('.hooks/')) return true
  }
  return false
}
