// One store file put into a package folder: a hard link shares the store's inode, a copy is a file of its own
// (chmod'ed only when asked), a clone is a real clone or a capability error, never a silent copy. Large copies go
// through the thread pool (graceful-fs) so they do not stop the event loop; hard links move no data.
import fs from 'node:fs'
import path from 'node:path'
import { describe, expect, it } from 'vitest'
import { isLargeCopy, materializeFileAsync } from '../../lib/import/materializeFile.js'
import { SYNC_IO_LIMIT } from '../../lib/util/hash.js'
import { tempDir } from '../helpers/tmp.js'

const BODY = 'content of a store file\n'

function storeFile (mode = 0o644): { dir: string, src: string } {
  const dir = tempDir()
  const src = path.join(dir, 'store-file')
  fs.writeFileSync(src, BODY)
  fs.chmodSync(src, mode)
  return { dir, src }
}

/** Whether this file system clones (FICLONE): then a clone succeeds, else it fails with this code. */
function cloneSupport (dir: string): string | undefined {
  const probe = path.join(dir, 'probe')
  fs.writeFileSync(probe, 'x')
  try {
    fs.copyFileSync(probe, probe + '-clone', fs.constants.COPYFILE_FICLONE_FORCE)
    return undefined
  } catch (err) {
    return (err as NodeJS.ErrnoException).code
  } finally {
    fs.rmSync(probe + '-clone', { force: true })
    fs.rmSync(probe)
  }
}

describe('isLargeCopy', () => {
  it('a clone or copy over the synchronous I/O limit goes off the event loop; up to the limit it does not', () => {
    for (const method of ['copy', 'clone'] as const) {
      expect(isLargeCopy(method, SYNC_IO_LIMIT + 1)).toBe(true)
      expect(isLargeCopy(method, SYNC_IO_LIMIT)).toBe(false)
      expect(isLargeCopy(method, 0)).toBe(false)
    }
  })

  it('a hard link of any size moves no data, so it never does', () => {
    expect(isLargeCopy('hardlink', SYNC_IO_LIMIT * 100)).toBe(false)
  })
})

describe('materializeFileAsync', () => {
  it('hardlink: the target is the store file itself (same inode)', async () => {
    const { dir, src } = storeFile()
    const dest = path.join(dir, 'linked')
    await materializeFileAsync('hardlink', src, dest, 0o755)
    expect(fs.statSync(dest).ino).toBe(fs.statSync(src).ino)
    expect(fs.statSync(src).mode & 0o777).toBe(0o644) // a link must not chmod the store's file
  })

  it('copy: a file of its own with the same bytes, keeping the store file\'s mode when no mode is asked', async () => {
    const { dir, src } = storeFile(0o755)
    const dest = path.join(dir, 'copied')
    await materializeFileAsync('copy', src, dest, undefined)
    expect(fs.statSync(dest).ino).not.toBe(fs.statSync(src).ino)
    expect(fs.readFileSync(dest, 'utf8')).toBe(BODY)
    expect(fs.statSync(dest).mode & 0o777).toBe(0o755)
  })

  it('copy: gets the mode asked for when the store file lost it, and the store file is left as it is', async () => {
    const { dir, src } = storeFile(0o600)
    const dest = path.join(dir, 'copied')
    await materializeFileAsync('copy', src, dest, 0o755)
    expect(fs.statSync(dest).mode & 0o777).toBe(0o755)
    expect(fs.statSync(src).mode & 0o777).toBe(0o600)
  })

  it('copy: never overwrites a file already at the target (EEXIST)', async () => {
    const { dir, src } = storeFile()
    const dest = path.join(dir, 'taken')
    fs.writeFileSync(dest, 'other')
    await expect(materializeFileAsync('copy', src, dest, undefined)).rejects.toMatchObject({ code: 'EEXIST' })
    expect(fs.readFileSync(dest, 'utf8')).toBe('other')
  })

  it('clone: a clone where the file system has them, else the capability error, never a silent data copy', async () => {
    const { dir, src } = storeFile()
    const dest = path.join(dir, 'cloned')
    const unsupported = cloneSupport(dir)
    if (unsupported === undefined) {
      await materializeFileAsync('clone', src, dest, 0o755)
      expect(fs.readFileSync(dest, 'utf8')).toBe(BODY)
      expect(fs.statSync(dest).mode & 0o777).toBe(0o755)
    } else {
      await expect(materializeFileAsync('clone', src, dest, 0o755)).rejects.toMatchObject({ code: unsupported })
      expect(fs.existsSync(dest)).toBe(false)
    }
  })
})
