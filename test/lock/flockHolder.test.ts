// flockHolder: who holds a flock, from /proc/locks. First against the real file, then against lines the kernel
// prints for cases a test cannot stage in one process: another device with the same inode number, a holder the
// reader's pid namespace cannot name (pid 0), and the padded "READ " of older kernels (man 5 proc).
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { afterEach, expect, it, vi } from 'vitest'
import { flockSync, openLockFile, unlockFd } from '../../lib/lock/flock.js'
import { flockHolder } from '../../lib/lock/lockWait.js'
import { tempDir } from '../helpers/tmp.js'

afterEach(() => { vi.restoreAllMocks() })

/** Makes /proc/locks read as `lines`; every other file reads as it is. */
function procLocks (lines: string[]): void {
  const readFileSync = fs.readFileSync
  vi.spyOn(fs, 'readFileSync').mockImplementation(((file: fs.PathOrFileDescriptor, options?: unknown) =>
    file === '/proc/locks'
      ? lines.join('\n') + '\n'
      : readFileSync(file, options as BufferEncoding)) as typeof fs.readFileSync)
}

/** How /proc/locks names `file`: major:minor in hex (two digits at least), then the inode. */
function kernelId (file: string, change: { major?: number, minor?: number } = {}): string {
  const { dev, ino } = fs.statSync(file)
  const major = change.major ?? (dev >> 8) & 0xfff
  const minor = change.minor ?? ((dev & 0xff) | ((dev >> 12) & 0xfff00))
  const hex = (n: number): string => n.toString(16).padStart(2, '0')
  return `${hex(major)}:${hex(minor)}:${ino}`
}

it('names this process while it holds the flock, and nobody once it let go or when the file is missing', () => {
  const file = path.join(tempDir(), 'k.lock')
  const fd = openLockFile(file)
  flockSync(fd, 'exnb')
  expect(flockHolder(file)).toEqual({ pid: process.pid, hostname: os.hostname() })
  unlockFd(fd)
  expect(flockHolder(file)).toBeUndefined()
  expect(flockHolder(path.join(path.dirname(file), 'missing.lock'))).toBeUndefined()
})

it('a lock on another device with the same inode number is not this file\'s', () => {
  const file = path.join(tempDir(), 'k.lock')
  fs.writeFileSync(file, '')
  const { dev } = fs.statSync(file)
  const major = (dev >> 8) & 0xfff
  const minor = (dev & 0xff) | ((dev >> 12) & 0xfff00)
  procLocks([`1: FLOCK  ADVISORY  WRITE 4242 ${kernelId(file, { major: major + 1 })} 0 EOF`])
  expect(flockHolder(file)).toBeUndefined()
  procLocks([`1: FLOCK  ADVISORY  WRITE 4242 ${kernelId(file, { minor: minor + 1 })} 0 EOF`])
  expect(flockHolder(file)).toBeUndefined()
  procLocks([`1: FLOCK  ADVISORY  WRITE 4242 ${kernelId(file)} 0 EOF`])
  expect(flockHolder(file)).toEqual({ pid: 4242, hostname: os.hostname() })
})

it('a holder shown as pid 0 (not visible from this pid namespace) is unknown; a padded READ line names its pid', () => {
  const file = path.join(tempDir(), 'k.lock')
  fs.writeFileSync(file, '')
  procLocks([`1: FLOCK  ADVISORY  WRITE 0 ${kernelId(file)} 0 EOF`])
  expect(flockHolder(file)).toBeUndefined()
  procLocks([`1: FLOCK  ADVISORY  READ  5433 ${kernelId(file)} 0 EOF`])
  expect(flockHolder(file)).toEqual({ pid: 5433, hostname: os.hostname() })
})
