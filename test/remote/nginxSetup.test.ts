// The test set-up's promise: nginx is there (installed if need be), or the run fails saying how. Never a skip.
import { expect, it } from 'vitest'
import { ensureNginx } from '../helpers/nginx.js'

it('without nginx and without root, fails with the exact command to run', () => {
  expect(() => ensureNginx({ find: () => undefined, uid: 1000 })).toThrow('`sudo apt-get install -y nginx`')
})

it('finds an nginx built with the WebDAV module', () => {
  expect(ensureNginx()).toMatch(/nginx$/)
})
