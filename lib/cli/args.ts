import { parseArgs } from 'node:util'
import { UsageError } from './usageError.js'

/** A flag a command takes: `node:util` parseArgs' option shape plus a line of help. */
export interface FlagSpec {
  type: 'string' | 'boolean'
  short?: string
  multiple?: boolean
  /** Placeholder shown in help for a string flag, e.g. `DIR`. */
  value?: string
  help: string
}

/** What a command declares about its arguments. */
export interface CommandSpec {
  name: string
  /** One line: what the command is for. */
  summary: string
  /** Positional arguments as shown in usage, e.g. `<dir|tarball>...`. */
  positionals?: string
  flags: Record<string, FlagSpec>
}

/** Flags every command takes. */
export const COMMON_FLAGS: Record<string, FlagSpec> = {
  store: { type: 'string', value: 'DIR', help: 'the store (default: the one pnpm uses on this machine)' },
  json: { type: 'boolean', help: 'print one JSON document instead of text' },
  quiet: { type: 'boolean', short: 'q', help: 'no progress, only the result' },
  help: { type: 'boolean', short: 'h', help: 'show this help' },
}

/**
 * Parses a command's arguments strictly: an unknown flag, a flag without its value or a value given to a
 * boolean flag is a {@link UsageError} naming it, never silently ignored.
 */
export function parseCommandArgs (
  spec: CommandSpec, argv: string[],
): { values: Record<string, string | boolean | string[] | undefined>, positionals: string[] } {
  const options: Record<string, { type: 'string' | 'boolean', short?: string, multiple?: boolean }> = {}
  for (const [name, flag] of Object.entries({ ...spec.flags, ...COMMON_FLAGS })) {
    options[name] = {
      type: flag.type,
      ...(flag.short === undefined ? {} : { short: flag.short }),
      ...(flag.multiple === true ? { multiple: true } : {}),
    }
  }
  try {
    const { values, positionals } = parseArgs({ args: argv, options, allowPositionals: true, strict: true })
    return { values: values as Record<string, string | boolean | string[] | undefined>, positionals }
  } catch (err) {
    const message = (err as Error).message.replace(/\. To specify a positional argument.*$/s, '').replace(/\.$/, '')
    throw new UsageError(message, spec.name)
  }
}

/** The `--help` text of a command. */
export function helpText (spec: CommandSpec): string {
  const lines = [`Usage: cas ${spec.name}${spec.positionals === undefined ? '' : ' ' + spec.positionals} [options]`, '', spec.summary, '', 'Options:']
  for (const [name, flag] of Object.entries({ ...spec.flags, ...COMMON_FLAGS })) {
    const left = `${flag.short === undefined ? '    ' : `-${flag.short}, `}--${name}${flag.type === 'string' ? ` ${flag.value ?? 'VALUE'}` : ''}`
    lines.push(`  ${left.padEnd(24)} ${flag.help}`)
  }
  return lines.join('\n') + '\n'
}
