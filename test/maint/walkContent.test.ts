// walkContent: what prune, verify and stat walk under files/. Only `<2 hex>/` buckets are content folders; names
// that are not a digest are strays; an entry that vanishes mid-walk is skipped; other errors are not swallowed.
import fs from 'node:fs'
import path from 'node:path'
import { describe, expect, it, vi } from 'vitest'
import { readdirOrEmpty, walkContent } from '../../lib/maint/walkContent.js'
import { sha512Hex } from '../helpers/content.js'
import { tempDir } from '../helpers/tmp.js'

async function walk (root: string): Promise<Array<[string, string | undefined, boolean]>> {
  const out: Array<[string, string | undefined, boolean]> = []
  for await (const e of walkContent(root)) out.push([path.relative(root, e.path), e.digest, e.exec])
  return out
}

function put (root: string, rel: string, body = 'x'): string {
  const file = path.join(root, 'files', rel)
  fs.mkdirSync(path.dirname(file), { recursive: true })
  fs.writeFileSync(file, body)
  return file
}

describe('walkContent', () => {
  it('yields content with its digest and exec flag, strays without a digest, each bucket sorted', async () => {
    const root = tempDir()
    const d = sha512Hex('one')
    const b = d.slice(0, 2)
    // A folder with a digest's name is not content either.
    const folder = d.slice(2, 127) + (d[127] === '0' ? '1' : '0')
    // Written out of order: the walk sorts, so prune and verify visit a store the same way every time.
    put(root, `${b}/zz-stray`)
    put(root, `${b}/${d.slice(2)}-exec`)
    fs.mkdirSync(path.join(root, 'files', b, folder))
    put(root, `${b}/${d.slice(2)}`)
    const other = put(root, `${b === 'ff' ? 'fe' : 'ff'}/another-stray`)
    const expected: Array<[string, string | undefined, boolean]> = [
      [`files/${b}/${d.slice(2)}`, d, false],
      [`files/${b}/${d.slice(2)}-exec`, d, true],
      [`files/${b}/${folder}`, undefined, false],
      [`files/${b}/zz-stray`, undefined, false],
    ]
    expected.sort((x, y) => x[0] < y[0] ? -1 : 1)
    expected.push([path.relative(root, other), undefined, false])
    expect(await walk(root)).toEqual(expected)
  })

  it('walks only `<2 hex>` bucket folders: a digest-named file elsewhere under files/ is not content', async () => {
    const root = tempDir()
    const d = sha512Hex('elsewhere')
    for (const bucket of ['abc', 'xab', 'AB', 'zz']) put(root, `${bucket}/${d.slice(2)}`)
    expect(await walk(root)).toEqual([])
  })

  it('no files/ folder, or a file where a bucket folder should be: nothing to walk', async () => {
    const root = tempDir()
    expect(await walk(root)).toEqual([])
    put(root, 'ab', 'a file, not a bucket')
    expect(await walk(root)).toEqual([])
  })

  it('an unreadable bucket is an error naming it, not an empty bucket', async () => {
    const root = tempDir()
    fs.mkdirSync(path.join(root, 'files'))
    fs.symlinkSync('ab', path.join(root, 'files', 'ab')) // readdir: ELOOP (as root, chmod cannot deny a read)
    await expect(walk(root)).rejects.toMatchObject({ code: 'ERR_CAS_FILE_ACCESS', message: expect.stringContaining(path.join(root, 'files', 'ab')) })
  })

  it('an entry removed after its bucket was listed is skipped', async () => {
    const root = tempDir()
    const a = sha512Hex('a')
    const first = put(root, `${a.slice(0, 2)}/1-stray`)
    const second = put(root, `${a.slice(0, 2)}/2-stray`)
    const seen: string[] = []
    for await (const e of walkContent(root)) {
      seen.push(e.path)
      if (e.path === first) fs.rmSync(second) // the bucket's listing is already read: the walk meets it gone
    }
    expect(seen).toEqual([first])
  })

  it('any other error meeting a listed entry is thrown: it is not taken for "gone"', async () => {
    const root = tempDir()
    const a = sha512Hex('a')
    const first = put(root, `${a.slice(0, 2)}/1-stray`)
    put(root, `${a.slice(0, 2)}/2-stray`)
    const walking = (async () => {
      for await (const e of walkContent(root)) {
        if (e.path !== first) continue
        // The bucket replaced by a file after it was listed: the next lstat fails with ENOTDIR.
        fs.rmSync(path.dirname(first), { recursive: true })
        fs.writeFileSync(path.dirname(first), '')
      }
    })()
    await expect(walking).rejects.toMatchObject({ code: 'ERR_CAS_FILE_ACCESS' })
  })
})

describe('readdirOrEmpty (the temp sweep\'s listing)', () => {
  it('a missing folder or a file in its place is empty; any other error is ERR_CAS_FILE_ACCESS naming the folder', async () => {
    const root = tempDir()
    fs.writeFileSync(path.join(root, 'a-file'), '')
    expect(await readdirOrEmpty(path.join(root, 'missing'))).toEqual([])
    expect(await readdirOrEmpty(path.join(root, 'a-file'))).toEqual([])
    fs.mkdirSync(path.join(root, 'listed'))
    for (const name of ['b', 'c', 'a']) fs.writeFileSync(path.join(root, 'listed', name), '')
    expect(await readdirOrEmpty(path.join(root, 'listed'))).toEqual(['a', 'b', 'c'])
    vi.spyOn(fs.promises, 'readdir').mockRejectedValueOnce(Object.assign(new Error('EIO: scripted'), { code: 'EIO' }))
    await expect(readdirOrEmpty(path.join(root, 'listed'))).rejects.toMatchObject({
      code: 'ERR_CAS_FILE_ACCESS', path: path.join(root, 'listed'),
    })
    vi.restoreAllMocks()
  })
})
