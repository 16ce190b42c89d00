import { runFixture } from './child.js'
import { requireTool } from './tools.js'

/**
 * Runs `test/fixtures/<fixture>` under `ulimit -n <limit>` (through sh, which must be there: the set-up says how
 * to get it otherwise) and resolves with the JSON object it prints (its first line starting with `{`).
 */
export async function reportUnderDescriptorLimit (fixture: string, args: string[], limit = 64): Promise<unknown> {
  requireTool('sh', 'dash', ['-c', `ulimit -n ${limit}`], 'it lowers the child\'s descriptor limit with `ulimit -n`')
  const child = runFixture(fixture, args, {}, ['sh', '-c', `ulimit -n ${limit} && exec "$@"`, 'sh'])
  return JSON.parse(await child.line(line => line.startsWith('{')))
}
