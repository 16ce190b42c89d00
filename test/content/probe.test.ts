import fs from 'node:fs'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { probeBytes, probeContent } from '../../lib/content/probe.js'
import { sha512Hex } from '../helpers/content.js'
import { tempDir } from '../helpers/tmp.js'

describe('the content probe: is exactly this content at this path?', () => {
  const data = Buffer.from('probe me\n')
  const digest = sha512Hex(data)

  it('tells good, missing, wrong and not-a-file apart, by hash and by bytes', async () => {
    const dir = tempDir()
    const file = path.join(dir, 'f')
    expect(await probeContent(file, digest)).toEqual({ state: 'missing' })
    expect(probeBytes(file, data)).toEqual({ state: 'missing' })
    fs.writeFileSync(file, data)
    expect(await probeContent(file, digest, data.length)).toEqual({ state: 'good', size: data.length })
    expect(probeBytes(file, data)).toEqual({ state: 'good', size: data.length })
    fs.writeFileSync(file, Buffer.from('probe mE\n'))
    expect(await probeContent(file, digest)).toEqual({ state: 'wrong' })
    expect(probeBytes(file, data)).toEqual({ state: 'wrong' })
    fs.rmSync(file)
    fs.mkdirSync(file)
    expect(await probeContent(file, digest)).toEqual({ state: 'not-a-file' })
    expect(probeBytes(file, data)).toEqual({ state: 'not-a-file' })
  })

  it('with a size, a different size is wrong without reading; without one, the bytes alone decide', async () => {
    const file = path.join(tempDir(), 'f')
    fs.writeFileSync(file, data)
    expect(await probeContent(file, digest, data.length + 1)).toEqual({ state: 'wrong' })
    expect(await probeContent(file, digest)).toEqual({ state: 'good', size: data.length })
  })

  it('reports what it cannot read as unreadable, with the error, instead of throwing', async () => {
    const dir = tempDir()
    const parentIsAFile = path.join(dir, 'plain')
    fs.writeFileSync(parentIsAFile, 'x')
    // A path through a file: ENOTDIR counts as missing (nothing can stand there).
    expect(await probeContent(path.join(parentIsAFile, 'f'), digest)).toEqual({ state: 'missing' })
    const loop = path.join(dir, 'loop')
    fs.symlinkSync(loop, loop)
    const probe = await probeContent(loop, digest)
    expect(probe).toMatchObject({ state: 'unreadable', error: { code: 'ELOOP' } })
    expect(probeBytes(loop, data)).toMatchObject({ state: 'unreadable', error: { code: 'ELOOP' } })
  })
})
