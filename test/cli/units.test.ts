import { Writable } from 'node:stream'
import { describe, expect, it } from 'vitest'
import { formatDuration, parseDuration } from '../../lib/cli/duration.js'
import { formatBytes, formatCount } from '../../lib/cli/format.js'
import { createProgress } from '../../lib/cli/progress.js'
import { defaultStoreDir } from '../../lib/cli/storeDir.js'
import { findStoreRoot } from '../../lib/layout/resolveRoot.js'
import { openStore } from '../../lib/index.js'
import { tempDir } from '../helpers/tmp.js'
import fs from 'node:fs'
import path from 'node:path'

function sink (isTTY: boolean): Writable & { isTTY: boolean, columns: number, text: () => string } {
  let text = ''
  const stream = new Writable({ write (chunk, _enc, done) { text += String(chunk); done() } }) as
    Writable & { isTTY: boolean, columns: number, text: () => string }
  stream.isTTY = isTTY
  stream.columns = 80
  stream.text = () => text
  return stream
}

describe('cli helpers', () => {
  it('parses and prints durations', () => {
    expect([parseDuration('10m'), parseDuration('90s'), parseDuration('250ms'), parseDuration('1.5h'), parseDuration('2d'), parseDuration('30'), parseDuration('0')])
      .toEqual([600_000, 90_000, 250, 5_400_000, 172_800_000, 30_000, 0])
    expect(() => parseDuration('-1m')).toThrow(/not a duration/)
    expect(() => parseDuration('10 minutes')).toThrow(/not a duration/)
    expect([formatDuration(850), formatDuration(12_000), formatDuration(184_000), formatDuration(3_720_000)]).toEqual(['850 ms', '12 s', '3 min 4 s', '1 h 2 min'])
  })

  it('prints counts and sizes', () => {
    expect([formatCount(1234567), formatBytes(512), formatBytes(1536), formatBytes(3.5 * 1024 ** 3)]).toEqual(['1,234,567', '512 B', '1.5 KiB', '3.5 GiB'])
  })

  it('finds the store pnpm uses: $PNPM_HOME/store, else $XDG_DATA_HOME/pnpm/store, else ~/.local/share/pnpm/store', () => {
    expect(defaultStoreDir({ PNPM_HOME: '/p', XDG_DATA_HOME: '/x' }, '/home/u', 'linux')).toBe('/p/store')
    expect(defaultStoreDir({ XDG_DATA_HOME: '/x' }, '/home/u', 'linux')).toBe('/x/pnpm/store')
    expect(defaultStoreDir({}, '/home/u', 'linux')).toBe('/home/u/.local/share/pnpm/store')
  })

  it('opens the v11 folder of a store, else its v10 folder, and nothing where there is no store', async () => {
    const dir = tempDir()
    expect(findStoreRoot(dir)).toBeUndefined()
    fs.mkdirSync(path.join(dir, 'v10', 'index'), { recursive: true })
    expect(findStoreRoot(dir)).toBe(path.join(dir, 'v10'))
    await (await openStore(dir)).close()
    expect(findStoreRoot(dir)).toBe(path.join(dir, 'v11'))
    expect(findStoreRoot(path.join(dir, 'v10'))).toBe(path.join(dir, 'v10'))
  })

  it('draws progress on a terminal at most every 100 ms, with a bar, rate and ETA; nothing elsewhere', () => {
    let t = 0
    const tty = sink(true)
    const bar = createProgress({ stream: tty, label: 'verify', unit: 'packages', total: 100, now: () => t })
    t = 1000
    bar.update(10)
    const first = tty.text()
    expect(first).toContain('verify [##..................] 10/100 packages 10% ETA 9 s 10/s')
    t = 1050
    bar.update(11)
    expect(tty.text()).toBe(first) // throttled
    t = 1200
    bar.update(12)
    expect(tty.text().length).toBeGreaterThan(first.length)
    bar.done()
    expect(tty.text().endsWith('\r')).toBe(true)

    const pipe = sink(false)
    const silent = createProgress({ stream: pipe, label: 'verify', unit: 'packages', total: 100, now: () => t })
    t = 5000
    silent.update(50)
    silent.done()
    const quiet = createProgress({ stream: tty, label: 'x', unit: 'y', quiet: true, now: () => t })
    const before = tty.text()
    quiet.update(1)
    expect(pipe.text()).toBe('')
    expect(tty.text()).toBe(before)
  })
})
