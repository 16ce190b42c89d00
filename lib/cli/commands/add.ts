import crypto from 'node:crypto'
import fs from 'node:fs'
import { readTarballManifest } from '../../add/readTarballManifest.js'
import { packageIndexKey } from '../../pkgIndex/key.js'
import type { PackageIndex } from '../../types.js'
import type { CommandSpec } from '../args.js'
import { openCliStore, type CliContext } from '../context.js'
import { packageKeyArg } from '../packageKey.js'
import { REMOTE_FLAG, remoteFromCli } from '../remote.js'
import { UsageError } from '../usageError.js'
import type { StoreOptions } from '../../store.js'

export const spec: CommandSpec = {
  name: 'add',
  positionals: '<dir|tarball>...',
  summary: 'Add the files of folders or package tarballs (.tgz/.tar) to the store and print their digests.\n' +
    'For a tarball, also write its package index, under --key or "<sha512 of the tarball>\\t<name>@<version>".\n' +
    'With --integrity (a single tarball, as a lockfile pins it), the tarball is checked while it streams and the\n' +
    'package is added as ensurePackage does: once per store, waiting for any process already adding it.',
  flags: {
    key: { type: 'string', value: 'KEY', help: 'the package index key for a single tarball' },
    integrity: { type: 'string', value: 'SRI', help: 'the tarball\'s integrity (sha512-…): checked, then the index key' },
    'pkg-id': { type: 'string', value: 'NAME@VER', help: 'with --integrity: the package id (default: from its package.json)' },
    remote: { ...REMOTE_FLAG, help: 'with --integrity: the remote cache to read through and upload to (or $CAS_REMOTE_URL)' },
    'max-bytes': { type: 'string', value: 'SIZE', help: 'refuse a folder or tarball of more bytes than this (default 8G; K, M, G, T)' },
  },
}

/** `--max-bytes`: a whole number of bytes, or of KiB, MiB, GiB, TiB with a suffix (`512M`, `16G`). */
function maxBytesOf (value: unknown): number | undefined {
  if (value === undefined) return undefined
  const match = /^(\d+)([KMGT])?$/i.exec(String(value))
  const bytes = match === null ? NaN : Number(match[1]) * 1024 ** ' KMGT'.indexOf((match[2] ?? ' ').toUpperCase())
  if (!Number.isSafeInteger(bytes)) throw new UsageError(`--max-bytes ${JSON.stringify(value)} is not a size (e.g. 512M, 16G)`, 'add')
  return bytes
}

/** `cas add`. */
export async function run (values: Record<string, unknown>, positionals: string[], ctx: CliContext): Promise<number> {
  if (positionals.length === 0) throw new UsageError('name at least one folder or tarball to add', 'add')
  const key = values.key as string | undefined
  const maxUnpackedBytes = maxBytesOf(values['max-bytes'])
  const limits = maxUnpackedBytes === undefined ? {} : { maxUnpackedBytes }
  const kinds = positionals.map(arg => {
    const stat = fs.statSync(arg, { throwIfNoEntry: false })
    if (stat === undefined) throw new UsageError(`${arg} does not exist`, 'add')
    // A device, FIFO or socket never ends (`/dev/zero`) or blocks: only files and folders are content.
    if (!stat.isDirectory() && !stat.isFile()) throw new UsageError(`${arg} is not a regular file or a folder`, 'add')
    return stat.isDirectory() ? 'dir' as const : 'tarball' as const
  })
  if (key !== undefined && (positionals.length !== 1 || kinds[0] !== 'tarball')) {
    throw new UsageError('--key goes with exactly one tarball', 'add')
  }
  const integrity = values.integrity as string | undefined
  if (integrity !== undefined && (positionals.length !== 1 || kinds[0] !== 'tarball' || key !== undefined)) {
    throw new UsageError('--integrity goes with exactly one tarball, and without --key (the key is "<integrity>\\t<pkg id>")', 'add')
  }
  if (values['pkg-id'] !== undefined && integrity === undefined) throw new UsageError('--pkg-id goes with --integrity', 'add')
  if (values.remote !== undefined && integrity === undefined) throw new UsageError('--remote goes with --integrity', 'add')
  if (integrity !== undefined) return await addPinned(positionals[0]!, integrity, values, ctx)
  // Checked before anything is added: a bad key found after the add would leave its content behind unindexed.
  const checkedKey = key === undefined ? undefined : packageKeyArg(key, 'add', '--key: ')
  const store = await openCliStore(values.store as string | undefined, ctx.env, true, false, ctx.stderr)
  type AddedFile = { name: string, digest: string, mode: number, size: number }
  const results: Array<{ source: string, key?: string, files: AddedFile[] }> = []
  try {
    for (const [i, source] of positionals.entries()) {
      if (kinds[i] === 'dir') {
        results.push({ source, files: listFiles(await store.addFilesFromDir(source, limits)) })
        continue
      }
      const hash = crypto.createHash('sha512')
      const index = await store.addFilesFromTarball(hashing(fs.createReadStream(source), hash), limits)
      const manifest = index.manifest as { name?: unknown, version?: unknown } | undefined
      let indexKey = checkedKey
      if (indexKey === undefined) {
        if (typeof manifest?.name !== 'string' || manifest.name === '' || typeof manifest.version !== 'string' || manifest.version === '') {
          throw new UsageError(`${source} has no package.json with a name and version to key its index by; pass --key`, 'add')
        }
        indexKey = packageIndexKey(`sha512-${hash.digest('base64')}`, `${manifest.name}@${manifest.version}`)
      }
      await store.writePackageIndex(indexKey, index)
      results.push({ source, key: indexKey, files: listFiles(index) })
    }
  } finally {
    await store.close()
  }
  if (values.json === true) {
    ctx.stdout.write(JSON.stringify({ root: store.root, added: results }, null, 2) + '\n')
    return 0
  }
  for (const r of results) {
    ctx.stdout.write(`${r.source}: ${r.files.length} files${r.key === undefined ? '' : `, index ${JSON.stringify(r.key)}`}\n`)
    for (const f of r.files) ctx.stdout.write(`${f.digest}  ${f.mode.toString(8).padStart(3, '0')}  ${f.name}\n`)
  }
  return 0
}

/** `cas add <tarball> --integrity SRI`: the ensurePackage path, with a line naming the process it waits for. */
async function addPinned (
  source: string, integrity: string, values: Record<string, unknown>, ctx: CliContext,
): Promise<number> {
  let pkgId = values['pkg-id'] as string | undefined
  if (pkgId === undefined) {
    const manifest = await readTarballManifest(source)
    if (typeof manifest?.name !== 'string' || manifest.name === '' || typeof manifest.version !== 'string' || manifest.version === '') {
      throw new UsageError(`${source} has no package.json with a name and version; pass --pkg-id`, 'add')
    }
    pkgId = `${manifest.name}@${manifest.version}`
  }
  const remote = remoteOptions(values, ctx)
  const store = await openCliStore(values.store as string | undefined, ctx.env, true, false, ctx.stderr, remote)
  let result
  try {
    let said = false
    result = await store.ensurePackage({
      integrity,
      pkgId,
      tarball: async () => fs.createReadStream(source),
      onWait: ({ holder, heldForMs }) => {
        if (said || values.quiet === true) return
        said = true
        const who = holder === undefined ? 'another process' : `pid ${holder.pid} on ${holder.hostname}`
        ctx.stderr.write(`cas add: waiting for ${pkgId}: ${who} is adding it` +
          `${heldForMs === undefined ? '' : ` (for ${Math.round(heldForMs / 1000)} s)`}\n`)
      },
    })
  } finally {
    await store.close()
  }
  const files = listFiles(result.index)
  if (values.json === true) {
    ctx.stdout.write(JSON.stringify({ root: store.root, added: [{ source, key: result.key, fetched: result.fetched, files }] }, null, 2) + '\n')
    return 0
  }
  ctx.stdout.write(`${source}: ${files.length} files, index ${JSON.stringify(result.key)}${result.fetched ? '' : ' (already in the store)'}\n`)
  for (const f of files) ctx.stdout.write(`${f.digest}  ${f.mode.toString(8).padStart(3, '0')}  ${f.name}\n`)
  return 0
}

/**
 * The remote tier for `cas add --integrity` when `--remote` or `$CAS_REMOTE_URL` names one: the package is read
 * through it, or uploaded to it after the add (the store's close waits); its problems are warning lines, never a
 * failure of the add.
 */
function remoteOptions (values: Record<string, unknown>, ctx: CliContext): StoreOptions {
  const url = values.remote as string | undefined ?? ctx.env.CAS_REMOTE_URL
  if (url === undefined || url === '') return {}
  return {
    remote: remoteFromCli(url, ctx.env, 'add'),
    onRemoteError: err => { ctx.stderr.write(`cas add: warning: ${err.message} (${err.code})\n`) },
  }
}

function listFiles (index: PackageIndex): Array<{ name: string, digest: string, mode: number, size: number }> {
  return [...index.files].map(([name, f]) => ({ name, digest: f.digest, mode: f.mode, size: f.size }))
    .sort((a, b) => a.name < b.name ? -1 : 1)
}

async function * hashing (source: AsyncIterable<Buffer>, hash: crypto.Hash): AsyncGenerator<Buffer> {
  for await (const chunk of source) {
    hash.update(chunk)
    yield chunk
  }
}
