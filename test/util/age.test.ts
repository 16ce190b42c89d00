import fs from 'node:fs'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { ageOf, isYoung } from '../../lib/util/age.js'
import { tempDir } from '../helpers/tmp.js'

describe('the age rule', () => {
  it('ages a file by its later change, content (mtime) or inode (ctime, a writer\'s claim)', () => {
    const file = path.join(tempDir(), 'f')
    fs.writeFileSync(file, 'x')
    const old = new Date(Date.now() - 3_600_000)
    fs.utimesSync(file, old, old) // mtime an hour back; the utimes call itself makes the ctime now
    const stat = fs.statSync(file)
    const now = Math.max(stat.mtimeMs, stat.ctimeMs) + 1000
    expect(ageOf(stat, now)).toBe(1000)
    expect(isYoung(stat, 60_000, now)).toBe(true)
    expect(isYoung(stat, 1000, now)).toBe(false) // exactly the grace period old: no longer young
  })

  it('counts a file changed after the moment of judgement as young, whatever the grace period', () => {
    const file = path.join(tempDir(), 'f')
    fs.writeFileSync(file, 'x')
    const stat = fs.statSync(file)
    const before = Math.max(stat.mtimeMs, stat.ctimeMs) - 5
    expect(ageOf(stat, before)).toBe(-5)
    expect(isYoung(stat, 0, before)).toBe(true)
  })
})
