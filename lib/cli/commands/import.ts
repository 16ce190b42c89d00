import path from 'node:path'
import { MissingContentError } from '../../errors.js'
import { IMPORT_METHOD_OPTIONS, type ImportMethodOption } from '../../import/importMethod.js'
import type { CommandSpec } from '../args.js'
import { describeKey, openCliStore, type CliContext } from '../context.js'
import { packageKeyArg } from '../packageKey.js'
import { UsageError } from '../usageError.js'

export const spec: CommandSpec = {
  name: 'import',
  positionals: '<package-key> <dir>',
  summary: 'Restore one package from the store into a folder (whole or not at all), as an installer would.\n' +
    'The key is the one `cas verify --json` prints (a real tab, or the two characters \\t, between integrity and ' +
    'name@version). Exit 1 when the store lacks some of its files, or has no such package.',
  flags: {
    method: { type: 'string', value: 'METHOD', help: `${IMPORT_METHOD_OPTIONS.join(', ')} (default auto)` },
    force: { type: 'boolean', help: 'replace the folder even if it already holds the complete package' },
  },
}

/** `cas import`. */
export async function run (values: Record<string, unknown>, positionals: string[], ctx: CliContext): Promise<number> {
  if (positionals.length !== 2) throw new UsageError('name a package key and a target folder', 'import')
  const key = packageKeyArg(positionals[0]!, 'import')
  const method = (values.method ?? 'auto') as ImportMethodOption
  if (!IMPORT_METHOD_OPTIONS.includes(method)) {
    const choices = IMPORT_METHOD_OPTIONS.join(', ')
    throw new UsageError(`--method ${JSON.stringify(method)} is not one of ${choices}`, 'import')
  }
  const dir = path.resolve(positionals[1]!)
  const store = await openCliStore(values.store as string | undefined, ctx.env)
  try {
    const index = await store.readPackageIndex(key)
    if (index === undefined) {
      // With --json, stdout always holds one JSON document, this outcome included (a script pipes it to jq).
      if (values.json === true) ctx.stdout.write(JSON.stringify({ key, dir, error: 'ERR_CAS_NOT_FOUND' }, null, 2) + '\n')
      ctx.stderr.write(`cas import: no package ${describeKey(key)} in ${store.root}. ` +
        '`cas verify --json` lists the keys.\n')
      return 1
    }
    let result
    try {
      result = await store.importPackage(index, dir, { method, force: values.force === true })
    } catch (err) {
      if (!(err instanceof MissingContentError)) throw err
      if (values.json === true) {
        ctx.stdout.write(JSON.stringify({ key, dir, error: err.code, files: err.files }, null, 2) + '\n')
      }
      ctx.stderr.write(`cas import: ${err.message} (${err.code})\n`)
      return 1
    }
    if (values.json === true) {
      ctx.stdout.write(JSON.stringify({ key, dir, ...result, files: index.files.size }, null, 2) + '\n')
    } else if (result.imported) {
      ctx.stdout.write(`Imported ${describeKey(key)} into ${dir} by ${result.method} (${index.files.size} files).\n`)
    } else {
      ctx.stdout.write(`${dir} already holds ${describeKey(key)}, complete; kept it (--force replaces it).\n`)
    }
    return 0
  } finally {
    await store.close()
  }
}
