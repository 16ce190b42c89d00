import fs from 'node:fs'
import type { StoreContext } from '../context.js'
import { FileAccessError } from '../errors.js'
import { contentPathFor } from '../layout/contentPath.js'
import { manifestFromBytes, requiresBuild } from '../pkgIndex/manifest.js'
import type { PackageIndex } from '../types.js'
import { whenDescriptorsFree } from '../util/fs.js'
import { SYNC_IO_LIMIT } from '../util/hash.js'

// A package.json larger than this is not a manifest anyone wrote by hand; leave it out rather than load it.
// Below it, one synchronous read (the bar of the writer's other sync I/O): a promise readFile makes four trips
// through libuv's pool, which for 500 small packages was 7% of adding their tarballs.
const MANIFEST_LIMIT = SYNC_IO_LIMIT

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
    let bytes: Buffer
    try {
      // Out of descriptors, the read waits for one, as every other open of the add does.
      bytes = await whenDescriptorsFree(() => fs.readFileSync(file), { closing: ctx.closing })
    } catch (err) {
      throw new FileAccessError(file, err as NodeJS.ErrnoException)
    }
    manifest = manifestFromBytes(bytes)
  }
  if (manifest !== undefined) index.manifest = manifest
  index.requiresBuild = requiresBuild(manifest, index.files)
  return index
}
