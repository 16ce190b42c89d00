// addFilesFromDir reads only what the caller named, whatever another process does to the folder meanwhile. Each
// swap happens at the 'add:walked' pause point (walk done, nothing opened yet), so every case is deterministic.
import fs from 'node:fs'
import path from 'node:path'
import { describe, expect, it, onTestFinished, vi } from 'vitest'
import { MAX_DIR_VISITS, openStore } from '../../lib/index.js'
import { runFixture } from '../helpers/child.js'
import { sha512Hex } from '../helpers/content.js'
import { runCas } from '../helpers/cas.js'
import { listFiles, tempDir } from '../helpers/tmp.js'

function makePackage (): string {
  const pkg = tempDir('cas-pkg-')
  fs.mkdirSync(path.join(pkg, 'lib'))
  fs.writeFileSync(path.join(pkg, 'package.json'), '{"name":"p","version":"1.0.0"}')
  fs.writeFileSync(path.join(pkg, 'lib', 'a.js'), 'module.exports = 1\n')
  fs.writeFileSync(path.join(pkg, 'index.js'), 'module.exports = 0\n')
  return pkg
}

const SECRET = 'the secret of someone else\n'

function makeOutside (): string {
  const outside = tempDir('cas-outside-')
  fs.writeFileSync(path.join(outside, 'a.js'), SECRET, { mode: 0o600 })
  fs.writeFileSync(path.join(outside, 'index.js'), SECRET, { mode: 0o600 })
  return outside
}

async function addWithSwap (
  swap: (pkg: string, outside: string) => void,
): Promise<{ error: unknown, storeFiles: string[], secretStored: boolean }> {
  const pkg = makePackage()
  const outside = makeOutside()
  const store = await openStore(tempDir(), { _hooks: { 'add:walked': () => { swap(pkg, outside) } } })
  const error = await store.addFilesFromDir(pkg).then(() => undefined, (err: unknown) => err)
  const secretStored = fs.existsSync(store.filePathFor(sha512Hex(SECRET), 0o644))
  const storeFiles = listFiles(path.join(store.root, 'files'))
  await store.close()
  return { error, storeFiles, secretStored }
}

describe('addFilesFromDir: a folder changed between the walk and the read', () => {
  it('a file swapped for a link to a secret outside is refused (ERR_CAS_FILE_CHANGED); the secret never enters the store', async () => {
    const { error, secretStored } = await addWithSwap((pkg, outside) => {
      const link = path.join(pkg, 'index.js.swap')
      fs.symlinkSync(path.join(outside, 'index.js'), link)
      fs.renameSync(link, path.join(pkg, 'index.js'))
    })
    expect(error).toMatchObject({ code: 'ERR_CAS_FILE_CHANGED', message: expect.stringMatching(/index\.js changed/) })
    expect(secretStored).toBe(false)
  })

  it('a folder swapped for a link to a folder outside is refused; the secret never enters the store', async () => {
    const { error, secretStored } = await addWithSwap((pkg, outside) => {
      fs.renameSync(path.join(pkg, 'lib'), path.join(pkg, 'lib.old'))
      fs.symlinkSync(outside, path.join(pkg, 'lib'))
    })
    expect(error).toMatchObject({ code: 'ERR_CAS_FILE_CHANGED' })
    expect(secretStored).toBe(false)
  })

  it('a file replaced by another file is refused (what is read must be what was approved)', async () => {
    const { error } = await addWithSwap(pkg => {
      fs.writeFileSync(path.join(pkg, 'other'), 'something else')
      fs.renameSync(path.join(pkg, 'other'), path.join(pkg, 'index.js'))
    })
    expect(error).toMatchObject({ code: 'ERR_CAS_FILE_CHANGED', message: expect.stringMatching(/another file took its place/) })
  })

  it('a file removed after the walk is ERR_CAS_FILE_CHANGED ("it was removed"), not a failure to read', async () => {
    const { error } = await addWithSwap(pkg => { fs.rmSync(path.join(pkg, 'index.js')) })
    expect(error).toMatchObject({ code: 'ERR_CAS_FILE_CHANGED', message: expect.stringMatching(/index\.js changed.*it was removed/) })
  })

  it('a file that shrinks between its fstat and its read is added with the bytes it has (the read stops, never spins)', async () => {
    // The fstat and the read are synchronous, one after the other: the shrink is played by an fstat that reports
    // 100 bytes more than the file has, as it would see them just before another process truncated the file.
    const pkg = makePackage()
    const real = fs.fstatSync
    const spy = vi.spyOn(fs, 'fstatSync').mockImplementation(((fd: number, options?: fs.StatOptions) => {
      const stat = real(fd, options as fs.StatOptions & { bigint?: false }) as fs.Stats
      if (stat.isFile() && stat.size === fs.statSync(path.join(pkg, 'index.js')).size) stat.size += 100
      return stat
    }) as typeof fs.fstatSync)
    // A read loop that does not stop at end of file would spin here forever, synchronously (no test timeout can
    // stop it): past 100 reads it is made to fail instead.
    const realRead = fs.readSync
    let reads = 0
    const readSpy = vi.spyOn(fs, 'readSync').mockImplementation(((...args: Parameters<typeof fs.readSync>) => {
      if (++reads > 100) throw new Error('the read loop did not stop at the end of the file')
      return realRead(...args)
    }) as typeof fs.readSync)
    onTestFinished(() => {
      spy.mockRestore()
      readSpy.mockRestore()
    })
    const store = await openStore(tempDir())
    const index = await store.addFilesFromDir(pkg)
    spy.mockRestore()
    readSpy.mockRestore()
    const entry = index.files.get('index.js')!
    expect(entry).toMatchObject({ digest: sha512Hex('module.exports = 0\n'), size: 'module.exports = 0\n'.length })
    await store.close()
  })

  it('a folder swapped for a link while the walk is inside it is refused (the kernel says where the file really is)', async () => {
    // The walk lstat()s lib (a real folder), then lib becomes a link to a folder outside before its entries are
    // read: the walk lists the outside files and approves their inodes, so only the opened descriptor's real
    // place (/proc/self/fd) tells them apart.
    const pkg = makePackage()
    const outside = makeOutside()
    const store = await openStore(tempDir(), {
      _hooks: {
        'add:dirApproved': ({ path: dir }) => {
          if (dir !== path.join(fs.realpathSync(pkg), 'lib')) return
          fs.renameSync(dir, dir + '.old')
          fs.symlinkSync(outside, dir)
        },
      },
    })
    await expect(store.addFilesFromDir(pkg)).rejects.toMatchObject({ code: 'ERR_CAS_FILE_CHANGED', message: expect.stringMatching(/reached through a link/) })
    expect(fs.existsSync(store.filePathFor(sha512Hex(SECRET), 0o644))).toBe(false)
    await store.close()
  })

  it('a FIFO swapped in for a file is refused, never hangs (a child process: a blocking open would freeze it)', async () => {
    const pkg = makePackage()
    const child = runFixture('addDirFifoSwap.ts', [tempDir(), pkg, path.join(pkg, 'index.js')])
    onTestFinished(() => { child.proc.kill('SIGKILL') }) // if it hangs, do not leave it behind
    const report = JSON.parse(await child.line(l => l.startsWith('{')))
    expect(report).toMatchObject({ code: 'ERR_CAS_FILE_CHANGED', path: path.join(fs.realpathSync(pkg), 'index.js') })
  }, 60_000)
})

describe('addFilesFromDir: links that fan out', () => {
  // l0 … l7, each with one file and three links to the next: walked naively that is 3^7 paths to l7 alone.
  function fanOut (): string {
    const pkg = tempDir('cas-fan-')
    for (let i = 0; i < 8; i++) {
      fs.mkdirSync(path.join(pkg, `l${i}`))
      fs.writeFileSync(path.join(pkg, `l${i}`, 'f.js'), `level ${i}\n`)
      if (i > 0) for (const link of ['a', 'b', 'c']) fs.symlinkSync(path.join(pkg, `l${i}`), path.join(pkg, `l${i - 1}`, link))
    }
    return pkg
  }

  it(`walks a directory reached through several links at most ${MAX_DIR_VISITS} times`, async () => {
    const store = await openStore(tempDir())
    const index = await store.addFilesFromDir(fanOut())
    expect(index.files.has('l0/a/f.js')).toBe(true)
    expect(index.files.has('l0/a/b/f.js')).toBe(true)
    expect(index.files.size).toBeLessThanOrEqual(8 * MAX_DIR_VISITS)
    await store.close()
  })

  it('refuses past maxEntries with ERR_CAS_TOO_MANY_ENTRIES, and the option raises it', async () => {
    const store = await openStore(tempDir())
    await expect(store.addFilesFromDir(fanOut(), { maxEntries: 10 })).rejects.toMatchObject({ code: 'ERR_CAS_TOO_MANY_ENTRIES' })
    expect((await store.addFilesFromDir(fanOut(), { maxEntries: 1000 })).files.size).toBeGreaterThan(10)
    await store.close()
  })
})

describe('cas add: only regular files and folders', () => {
  it('refuses /dev/zero (it would read forever) before opening the store', async () => {
    const dir = tempDir()
    const result = await runCas(['add', '/dev/zero', '--store', dir])
    expect(result.code).toBe(2)
    expect(result.stderr).toMatch(/\/dev\/zero is not a regular file or a folder/)
    expect(fs.readdirSync(dir)).toEqual([])
  })
})
