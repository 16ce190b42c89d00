import fs from 'node:fs'
import type { StoreContext } from '../context.js'
import { contentPathFor } from '../layout/contentPath.js'
import { manifestFromBytes, requiresBuild } from '../pkgIndex/manifest.js'
import type { PackageIndex } from '../types.js'

// A package.json larger than this is not a manifest anyone wrote by hand; leave it out rather than load it.
const MANIFEST_LIMIT = 1024 * 1024

/**
 * Fills in `manifest` (the indexed subset of the package's own package.json) and `requiresBuild`, so an index
 * returned by an add verb can be written with `writePackageIndex` as it is, and pnpm can link its bins and decide
 * about its scripts from the index alone. The manifest is read back from the store, where the add just put it.
 */
export async function addPackageMeta (ctx: StoreContext, index: PackageIndex): Promise<PackageIndex> {
  const packageJson = index.files.get('package.json')
  let manifest: Record<string, unknown> | undefined
  if (packageJson !== undefined && packageJson.size <= MANIFEST_LIMIT) {
    const file = contentPathFor(ctx.root, packageJson.digest, packageJson.mode)
    manifest = manifestFromBytes(await fs.promises.readFile(file))
  }
  if (manifest !== undefined) index.manifest = manifest
  index.requiresBuild = requiresBuild(manifest, index.files)
  return index
}
