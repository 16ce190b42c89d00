// pnpm#6853: two containers share a mounted store, and both installers run as pid 1. A temp name built from pid
// (and thread id and a counter) is then the same in both, and one container opens, truncates or renames the
// other's half-written file. Each process here gets its own pid namespace, so both really are pid 1.
import fs from 'node:fs'
import { expect, it } from 'vitest'
import { openStore } from '../../lib/index.js'
import { runFixture } from '../helpers/child.js'
import { sha512Hex } from '../helpers/content.js'
import { listFiles, tempDir } from '../helpers/tmp.js'
import { requireTool } from '../helpers/tools.js'

const unshareArgs = process.getuid?.() === 0 ? ['--pid', '--fork'] : ['--user', '--map-root-user', '--pid', '--fork']

it('two writers that are both pid 1 (two containers) never share a temp file', async () => {
  requireTool('unshare', 'util-linux', [...unshareArgs, 'true'],
    'a pid namespace per writer; unprivileged, it also needs user namespaces enabled')
  const dir = tempDir()
  const text = 'x'.repeat(100_000) + 'the same package file in two containers'
  const unshare = ['unshare', ...unshareArgs]
  const first = runFixture('containerWriter.ts', [dir, text, 'pause'], {}, unshare)
  expect(await first.line(l => l.startsWith('PID'))).toBe('PID 1')
  await first.line(l => l === 'HALF') // its temp file is open and half written

  const second = runFixture('containerWriter.ts', [dir, text, 'go'], {}, unshare)
  expect(await second.line(l => l.startsWith('PID'))).toBe('PID 1')
  const secondResult = await second.line(l => l.startsWith('DONE') || l.startsWith('ERROR'))
  first.send('go')
  const firstResult = await first.line(l => l.startsWith('DONE') || l.startsWith('ERROR'))

  const store = await openStore(dir)
  const target = store.filePathFor(sha512Hex(text), 0o644)
  expect(secondResult).toBe(`DONE ${target}`)
  expect(firstResult).toBe(`DONE ${target}`)
  expect(fs.readFileSync(target, 'utf8')).toBe(text)
  expect(listFiles(`${store.root}/tmp`)).toEqual([])
  await store.close()
})
