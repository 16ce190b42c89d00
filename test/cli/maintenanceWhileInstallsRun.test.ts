// cas verify --fix and cas prune run against a store while three installer processes add packages to it, many
// of whose files are already there as unreferenced leftovers past the grace period (so prune wants them gone).
// No installer may ever lose a file it was handed, and the store must end healthy.
import { expect, it } from 'vitest'
import { openStore } from '../../lib/index.js'
import { runCas } from '../helpers/cas.js'
import { runFixture } from '../helpers/child.js'
import { tempDir } from '../helpers/tmp.js'
import { POOL } from '../fixtures/pool.js'

const GRACE = '3s'

it('verify --fix and prune while installers run: no installer loses a file, the store ends healthy', async () => {
  const storeDir = tempDir()
  const seed = await openStore(storeDir)
  for (const body of POOL) await seed.ensureFile(Buffer.from(body), { mode: 0o644 })
  await seed.close()
  // Let the leftovers age past the grace period, so prune would remove them if the installers did not claim them.
  await new Promise(resolve => setTimeout(resolve, 3200))
  expect((await runCas(['prune', '--store', storeDir, '--grace', GRACE, '--force', '--dry-run', '--json'])).stdout).toContain(`"count": ${POOL.length}`)

  const installers = ['alpha', 'beta', 'gamma'].map(name => runFixture('installer.ts', [storeDir, name, '11']))
  await Promise.all(installers.map(async c => await c.line(l => l === 'READY')))
  // Two whole rounds while all three install, then the installers are told to stop: cued by events, never by a
  // clock (under load, a fixed 6 s of installing once ended before the first round had).
  const maintenance: Array<{ args: string[], code: number, stderr: string }> = []
  const rounds = [['prune', '--grace', GRACE, '--force', '--json'], ['verify', '--fix', '--grace', GRACE, '--json']]
  for (let round = 0; round < 2; round++) {
    for (const args of rounds) {
      const run = await runCas([...args, '--store', storeDir])
      maintenance.push({ args, code: run.code, stderr: run.stderr })
    }
  }
  const stillInstalling = installers.filter(c => !c.lines.some(l => l.startsWith('DONE')))
  for (const c of installers) c.send('stop')
  await Promise.all(installers.map(async c => await c.exited))
  expect(stillInstalling).toHaveLength(3) // the rounds overlapped all three installers, start to end
  for (const c of installers) {
    expect(await c.exited).toEqual({ code: 0, signal: null })
    expect(c.lines.filter(l => l.startsWith('LOST'))).toEqual([])
    expect(Number(c.lines.find(l => l.startsWith('DONE'))!.split(' ')[1])).toBeGreaterThan(10)
  }
  expect(maintenance).toHaveLength(4)
  expect(maintenance.filter(m => m.code !== 0)).toEqual([])
  const final = await runCas(['verify', '--store', storeDir, '--full', '--json'])
  expect(final.code).toBe(0)
  expect(JSON.parse(final.stdout)).toMatchObject({ healthy: true, problems: [] })
})
