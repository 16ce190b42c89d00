import { CasError } from '../errors.js'

/** Bad command-line usage: an unknown command or flag, a missing or malformed value. `cas` exits 2. */
export class UsageError extends CasError {
  constructor (message: string, command?: string) {
    super('ERR_CAS_USAGE', `${message}. Run \`cas ${command === undefined ? '' : command + ' '}--help\` for usage.`)
  }
}
