import { expect, it } from 'vitest'
import { resolveRemote } from '../../lib/remote/options.js'
import { remoteFilePath, remoteIndexPath } from '../../lib/remote/layout.js'

it('moves credentials out of the URL (which messages show) into the Authorization header', () => {
  const r = resolveRemote('https://ci:p%40ss@cache.example/cas/?x=1#y')
  expect(r.baseUrl).toBe('https://cache.example/cas')
  expect(r.headers.authorization).toBe('Basic ' + Buffer.from('ci:p@ss').toString('base64'))
})

it('takes a bearer token, headers, upload: false and limits', () => {
  const r = resolveRemote({ url: 'http://127.0.0.1:8080/cas', token: 'T', headers: { 'X-Team': 'a' }, upload: false, concurrency: 3 })
  expect(r).toMatchObject({ baseUrl: 'http://127.0.0.1:8080/cas', upload: false, concurrency: 3, headers: { authorization: 'Bearer T', 'x-team': 'a' } })
  expect(resolveRemote('http://h/cas').upload).toBe(true)
})

it('refuses what is not an http(s) URL, without echoing a password', () => {
  expect(() => resolveRemote('ftp://h/cas')).toThrow(/ERR_CAS_INVALID_ARGUMENT|not supported/)
  let message = ''
  try {
    resolveRemote('not a url://user:hunter2@')
  } catch (err) {
    message = (err as Error).message
  }
  expect(message).toContain('is not a URL')
  expect(message).not.toContain('hunter2')
  expect(() => resolveRemote({ url: 'http://h/cas', concurrency: 0 })).toThrow('positive')
})

it('lays objects out as files/<2>/<126> by sha512 and index/<2>/<62> by the sha256 of the key', () => {
  const digest = 'ab' + 'c'.repeat(126)
  expect(remoteFilePath(digest)).toBe(`files/ab/${'c'.repeat(126)}`)
  expect(() => remoteFilePath('../../etc/passwd')).toThrow()
  expect(remoteIndexPath('sha512-AAAA\tleft-pad@1.3.0')).toMatch(/^index\/[0-9a-f]{2}\/[0-9a-f]{62}$/)
})
