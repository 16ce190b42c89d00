import fs from 'node:fs'
import { CasError } from '../errors.js'
import { helpText, parseCommandArgs, type CommandSpec } from './args.js'
import type { CliContext } from './context.js'
import * as add from './commands/add.js'
import * as cat from './commands/cat.js'
import * as importCmd from './commands/import.js'
import * as prune from './commands/prune.js'
import * as stat from './commands/stat.js'
import * as verify from './commands/verify.js'
import { UsageError } from './usageError.js'

interface Command {
  spec: CommandSpec
  run: (values: Record<string, unknown>, positionals: string[], ctx: CliContext) => Promise<number>
}

const COMMANDS: Record<string, Command> = { verify, add, cat, stat, prune, import: importCmd }

function overview (): string {
  const lines = ['Usage: cas <command> [options]', '', 'Maintain a content-addressable store shared with pnpm (v11, or v10 read-only), safely while installs run.', '', 'Commands:']
  for (const [name, { spec }] of Object.entries(COMMANDS)) lines.push(`  ${name.padEnd(8)} ${spec.summary.split('\n')[0]}`)
  lines.push('', 'Run `cas <command> --help` for a command\'s options. Without --store, cas uses the store pnpm uses on this machine.')
  return lines.join('\n') + '\n'
}

function version (): string {
  const pkg = JSON.parse(fs.readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }
  return pkg.version
}

/**
 * Runs `cas` with `argv` (without node and the script) and returns the exit code: 0 success/healthy, 1 problems
 * found and left, 2 bad usage or a store that cannot be read, 130 interrupted. Errors are printed, never thrown.
 */
export async function main (argv: string[], ctx: CliContext): Promise<number> {
  const [name, ...rest] = argv
  try {
    if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
      ctx.stdout.write(overview())
      return name === undefined ? 2 : 0
    }
    if (name === '--version' || name === '-v') {
      ctx.stdout.write(version() + '\n')
      return 0
    }
    const command = COMMANDS[name]
    if (command === undefined) throw new UsageError(`unknown command ${JSON.stringify(name)} (commands: ${Object.keys(COMMANDS).join(', ')})`)
    const { values, positionals } = parseCommandArgs(command.spec, rest)
    if (values.help === true) {
      ctx.stdout.write(helpText(command.spec))
      return 0
    }
    return await command.run(values, positionals, ctx)
  } catch (err) {
    if (err instanceof CasError) {
      ctx.stderr.write(`cas${name === undefined ? '' : ' ' + name}: ${err.message} (${err.code})\n`)
      return 2
    }
    ctx.stderr.write(`cas${name === undefined ? '' : ' ' + name}: unexpected failure: ${(err as Error)?.stack ?? String(err)}\n` +
      'This is a bug in cas-store; please report it with the command you ran.\n')
    return 2
  }
}
