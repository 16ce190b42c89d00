import crypto from 'node:crypto'
import fs from 'node:fs'
import { once } from 'node:events'
import { toDigestHex } from '../../digest/sri.js'
import { type CasError, FileAccessError, NotAFileError } from '../../errors.js'
import { statOrUndefined } from '../../util/fs.js'
import type { CommandSpec } from '../args.js'
import { openCliStore, type CliContext } from '../context.js'
import { UsageError } from '../usageError.js'

export const spec: CommandSpec = {
  name: 'cat',
  positionals: '<digest|sri>',
  summary: 'Write a content file to stdout, checking its bytes against its name on the way.\n' +
    'Exit 1 when it is not in the store or its bytes are wrong.',
  flags: {},
}

// Up to this size the whole file is read and checked before a byte is written, so bad content never reaches
// stdout. Larger files are streamed, and a mismatch is reported (exit 1) after the fact.
const CHECK_FIRST_LIMIT = 64 * 1024 * 1024

/** `cas cat`. */
export async function run (values: Record<string, unknown>, positionals: string[], ctx: CliContext): Promise<number> {
  if (positionals.length !== 1) throw new UsageError('name exactly one digest (128 hex) or SRI (sha512-…)', 'cat')
  let digest: string
  try {
    digest = toDigestHex(positionals[0])
  } catch (err) {
    throw new UsageError((err as CasError).message.replace(/\.$/, ''), 'cat')
  }
  const store = await openCliStore(values.store as string | undefined, ctx.env, false, true)
  await store.close()
  const file = [store.filePathFor(digest, 0o644), store.filePathFor(digest, 0o755)].find(f => present(f))
  if (file === undefined) {
    ctx.stderr.write(`cas cat: ${digest.slice(0, 16)}… is not in ${store.root}.\n`)
    return 1
  }
  try {
    return await copyOut(ctx, file, digest)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).path === file) {
      throw new FileAccessError(file, err as NodeJS.ErrnoException)
    }
    throw err
  }
}

async function copyOut (ctx: CliContext, file: string, digest: string): Promise<number> {
  const hash = crypto.createHash('sha512')
  if (fs.statSync(file).size <= CHECK_FIRST_LIMIT) {
    const bytes = fs.readFileSync(file)
    if (hash.update(bytes).digest('hex') !== digest) return mismatch(ctx, file)
    if (!ctx.stdout.write(bytes)) await once(ctx.stdout, 'drain')
    return 0
  }
  for await (const chunk of fs.createReadStream(file)) {
    hash.update(chunk as Buffer)
    if (!ctx.stdout.write(chunk as Buffer)) await once(ctx.stdout, 'drain')
  }
  return hash.digest('hex') === digest ? 0 : mismatch(ctx, file)
}

function mismatch (ctx: CliContext, file: string): number {
  ctx.stderr.write(`cas cat: ${file} does not hold the bytes its name promises (corrupt). Run \`cas verify --fix\`.\n`)
  return 1
}

/** Whether content stands at `file`: absent is false; unreadable, or not a file, is an error saying so. */
function present (file: string): boolean {
  let stat
  try {
    stat = statOrUndefined(file)
  } catch (err) {
    throw new FileAccessError(file, err as NodeJS.ErrnoException) // EACCES: not "absent"
  }
  if (stat === undefined) return false
  if (!stat.isFile()) throw new NotAFileError(file)
  return true
}
