// `cas push` and `cas pull` as a CI job runs them: real processes, a real nginx that wants a bearer token.
import fs from 'node:fs'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { packageIndexKey } from '../../lib/index.js'
import { runCas } from '../helpers/cas.js'
import { startNginx, type Nginx } from '../helpers/nginx.js'
import { generatePackages } from '../helpers/generatedPackages.js'
import { tempDir } from '../helpers/tmp.js'

const TOKEN = 's3cr3t-t0ken-that-must-never-be-printed'
let server: Nginx
beforeAll(async () => { server = await startNginx({ bearerToken: TOKEN }) })
afterAll(async () => { await server.stop() })

describe('cas push / cas pull', () => {
  it('pushes a store with a bearer token, pulls its packages into an empty one, and never prints the token', async () => {
    const dir = tempDir()
    const packages = generatePackages(3, { seed: 'cli' })
    const tarballs = packages.map(p => {
      const file = path.join(dir, `${p.name}.tgz`)
      fs.writeFileSync(file, p.tgz)
      return file
    })
    const a = path.join(dir, 'a')
    expect((await runCas(['add', '--store', a, ...tarballs])).code).toBe(0)
    const env = { CAS_REMOTE_URL: server.url, CAS_REMOTE_TOKEN: TOKEN }
    const outputs: string[] = []
    const cas = async (args: string[], e: NodeJS.ProcessEnv = env): Promise<Awaited<ReturnType<typeof runCas>>> => {
      const run = await runCas(args, e)
      outputs.push(run.stdout, run.stderr)
      return run
    }

    // Wrong token: the server refuses; cas says so, exit 2, and prints neither token.
    const refused = await cas(['push', '--store', a], { ...env, CAS_REMOTE_TOKEN: 'wrong-token-also-secret' })
    expect(refused.code).toBe(2)
    expect(refused.stderr).toMatch(/HTTP 401.*ERR_CAS_REMOTE_UNAVAILABLE/s)
    expect(refused.stderr).toContain('check the token')
    expect(refused.stderr).not.toContain('wrong-token-also-secret')

    const push = await cas(['push', '--store', a])
    expect(push.code, push.stderr).toBe(0)
    expect(push.stdout).toMatch(/3 packages uploaded \(\d+ files, .+\), 0 already there/)
    const again = await cas(['push', '--store', a, '--json'])
    expect(JSON.parse(again.stdout))
      .toMatchObject({ packagesUploaded: 0, packagesSkipped: 3, requests: { HEAD: 3, PUT: 0, GET: 0 } })

    const b = path.join(dir, 'b')
    const keys = packages.map(p => packageIndexKey(p.integrity, p.pkgId))
    const pull = await cas(['pull', '--store', b, ...keys])
    expect(pull.code, pull.stderr).toBe(0)
    expect(pull.stdout.trim().split('\n')).toHaveLength(3)
    expect(pull.stdout).toMatch(/cli-pkg-0@1\.0\.0 .*: pulled \(\d+ files downloaded/)
    const verify = await cas(['verify', '--store', b, '--full'])
    expect(verify.code, verify.stdout + verify.stderr).toBe(0)
    const twice = await cas(['pull', '--store', b, keys[0]!, '--json'])
    expect(JSON.parse(twice.stdout).results).toEqual([{ key: keys[0], status: 'present' }])

    const unknown = packageIndexKey('sha512-' + Buffer.alloc(64, 7).toString('base64'), 'nope@1.0.0')
    const missing = await cas(['pull', '--store', b, unknown])
    expect(missing.code).toBe(1)
    expect(missing.stdout).toContain('not on the remote')

    for (const text of outputs) expect(text).not.toContain(TOKEN)
  })

  it('cas add --integrity uploads through the remote, and a dead remote is one warning line, not a failure', async () => {
    const dir = tempDir()
    const [pkg, other] = generatePackages(2, { seed: 'cli-add' })
    const file = path.join(dir, 'pkg.tgz')
    fs.writeFileSync(file, pkg!.tgz)
    const env = { CAS_REMOTE_URL: server.url, CAS_REMOTE_TOKEN: TOKEN }
    const added = await runCas(['add', '--store', path.join(dir, 'a'), file, '--integrity', pkg!.integrity], env)
    expect(added.code, added.stderr).toBe(0)
    expect(added.stderr).toBe('')
    // The store's close waited for the upload: a fresh store pulls the package.
    const pulled = await runCas(['pull', '--store', path.join(dir, 'b'), packageIndexKey(pkg!.integrity, pkg!.pkgId)], env)
    expect(pulled.stdout).toContain('pulled')

    const dead = await startNginx()
    await dead.stop()
    const otherFile = path.join(dir, 'other.tgz')
    fs.writeFileSync(otherFile, other!.tgz)
    const offline = await runCas(['add', '--store', path.join(dir, 'c'), otherFile, '--integrity', other!.integrity,
      '--remote', dead.url], { CAS_REMOTE_TOKEN: TOKEN })
    expect(offline.code, offline.stderr).toBe(0)
    const warnings = offline.stderr.trim().split('\n')
    expect(warnings).toHaveLength(1)
    expect(warnings[0]).toMatch(/^cas add: warning: The remote cache failed: GET .*connection refused.*\(ERR_CAS_REMOTE_UNAVAILABLE\)$/)
    expect(offline.stderr).not.toContain(TOKEN)
  })

  it('says how to name the remote, and refuses a malformed key before any request', async () => {
    const noRemote = await runCas(['push', '--store', tempDir()], {})
    expect(noRemote.code).toBe(2)
    expect(noRemote.stderr).toContain('--remote URL or the CAS_REMOTE_URL')
    const badKey = await runCas(['pull', '--store', tempDir(), 'left-pad@1.3.0'], { CAS_REMOTE_URL: server.url })
    expect(badKey.code).toBe(2)
    expect(badKey.stderr).toContain('Not a package index key')
  })
})
