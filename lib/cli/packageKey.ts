import { assertPackageIndexKey } from '../pkgIndex/key.js'
import { UsageError } from './usageError.js'

/**
 * A package key as typed on the command line: a key copied from `cas verify --json` carries its tab as the two
 * characters `\t` (a shell rarely makes a real tab easy to type), which is taken for the tab when there is no real
 * one. A key that is still not one is a usage error of `command`, with `label` (`--key: `) before the reason.
 */
export function packageKeyArg (typed: string, command: string, label = ''): string {
  const key = typed.includes('\t') ? typed : typed.replace('\\t', '\t')
  try {
    return assertPackageIndexKey(key)
  } catch (err) {
    throw new UsageError(`${label}${(err as Error).message.replace(/\.$/, '')}`, command)
  }
}
