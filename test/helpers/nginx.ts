// Debian's nginx as the remote tier's server in tests: the same WebDAV set-up the README tells a team to run.
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process'
import crypto from 'node:crypto'
import fs from 'node:fs'
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'

const INSTALL = 'apt-get install -y nginx'
const CANDIDATES = ['/usr/sbin/nginx', '/usr/local/sbin/nginx', '/usr/local/nginx/sbin/nginx']

let found: string | undefined

function locate (): string | undefined {
  for (const candidate of CANDIDATES) if (fs.existsSync(candidate)) return candidate
  try {
    return execFileSync('sh', ['-c', 'command -v nginx'], { encoding: 'utf8' }).trim() || undefined
  } catch {
    return undefined
  }
}

/**
 * The nginx binary, installed first when it is missing and we are root (`apt-get install -y nginx`, waiting for
 * another test worker's apt run on dpkg's own lock, and `apt-get update` once when the package lists are empty).
 * Not root: fails with that exact instruction. Never skips: the remote tier is tested against the real server.
 */
export function ensureNginx ({ find = locate, uid = process.getuid?.() } = {}): string {
  if (found !== undefined && find === locate) return found
  let bin = find()
  if (bin === undefined) {
    if (uid !== 0) {
      throw new Error(`nginx is not installed, and the remote-tier tests need it. Run \`sudo ${INSTALL}\` (Debian/Ubuntu), then retry.`)
    }
    const apt = (args: string[]): void => {
      execFileSync('apt-get', ['-o', 'DPkg::Lock::Timeout=300', ...args], { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } })
    }
    try {
      apt(['install', '-y', 'nginx'])
    } catch {
      apt(['update'])
      apt(['install', '-y', 'nginx'])
    }
    bin = find()
    if (bin === undefined) throw new Error(`\`${INSTALL}\` ran but no nginx binary was found; install it by hand and retry.`)
  }
  const version = spawnSync(bin, ['-V'], { encoding: 'utf8' })
  const build = `${version.stdout}${version.stderr}` // nginx -V writes to stderr
  if (!build.includes('http_dav_module')) {
    throw new Error(`${bin} is built without the WebDAV module (http_dav_module); install Debian's: \`${INSTALL}\`.`)
  }
  found = bin
  return bin
}

/** A running nginx with a WebDAV location at `url`, its data in `dataDir`. */
export interface Nginx {
  /** Base URL of the cache, e.g. `http://127.0.0.1:41234/cas`. */
  url: string
  port: number
  /** What the server stores: `<dataDir>/files/…`, `<dataDir>/index/…`. */
  dataDir: string
  /** Every request served so far, from the access log: `METHOD /path STATUS`. */
  requests: () => Array<{ method: string, path: string, status: number, bytesSent: number, bytesReceived: number }>
  /** The error log so far. */
  errorLog: () => string
  stop: () => Promise<void>
}

/** Options of {@link startNginx}. */
export interface NginxOptions {
  /** Answer every request with this status instead of serving the cache (a broken server). */
  answer?: number
  /** Require `Authorization: Bearer <token>`; anything else is answered 401. */
  bearerToken?: string
  /** Reuse this data folder (to restart a server over the same cache). */
  dataDir?: string
  /** Listen on this port (to restart a server at the same URL). */
  port?: number
  /**
   * The `http { }` block's server part, instead of the default one (e.g. the README's block, with its paths and
   * port replaced by these). The URL is still `http://127.0.0.1:<port>/cas`.
   */
  serverConfig?: (where: { port: number, dataDir: string, bodyTemp: string }) => string
}

const running = new Set<ChildProcess>()
process.on('exit', () => { for (const proc of running) proc.kill('SIGKILL') })

/**
 * Starts Debian's nginx in the foreground on a free 127.0.0.1 port, with a config written into a fresh temp dir
 * (pid file, logs, client body temp and data all inside it). As root, the workers run as `www-data`, so the data
 * and body-temp folders are handed to that user (else every PUT is a 500 "Permission denied").
 */
export async function startNginx (options: NginxOptions = {}): Promise<Nginx> {
  const bin = ensureNginx()
  const prefix = fs.mkdtempSync(path.join(os.tmpdir(), 'cas-nginx-'))
  fs.chmodSync(prefix, 0o755) // mkdtemp makes it 0700: the workers must be able to walk through it
  const dataDir = options.dataDir ?? path.join(prefix, 'data')
  const bodyTemp = path.join(prefix, 'body-temp')
  fs.mkdirSync(dataDir, { recursive: true })
  fs.mkdirSync(bodyTemp)
  const asRoot = process.getuid?.() === 0
  if (asRoot) {
    const { uid, gid } = workerIds()
    for (const dir of [dataDir, bodyTemp]) chownTree(dir, uid, gid)
  }
  for (let attempt = 0; ; attempt++) {
    const port = options.port ?? await freePort()
    const conf = path.join(prefix, 'nginx.conf')
    fs.writeFileSync(conf, config({ prefix, dataDir, bodyTemp, port, asRoot, ...options }))
    const proc = spawn(bin, ['-p', prefix, '-c', conf, '-e', path.join(prefix, 'error.log'), '-g', 'daemon off;'], { stdio: ['ignore', 'ignore', 'pipe'] })
    let stderr = ''
    proc.stderr!.on('data', chunk => { stderr += String(chunk) })
    const exited = new Promise<void>(resolve => proc.on('exit', () => resolve()))
    running.add(proc)
    const up = await Promise.race([waitListening(port), exited.then(() => false)])
    if (!up) {
      running.delete(proc)
      proc.kill('SIGKILL')
      const log = readOr(path.join(prefix, 'error.log'))
      if (attempt < 5 && options.port === undefined && /Address already in use/.test(stderr + log)) continue
      throw new Error(`nginx did not start: ${stderr}\n${log}`)
    }
    const accessLog = path.join(prefix, 'access.log')
    return {
      url: `http://127.0.0.1:${port}/cas`,
      port,
      dataDir,
      requests: () => readOr(accessLog).split('\n').filter(Boolean).map(line => {
        const [method, uri, status, sent, received] = line.split(' ')
        return {
          method: method!, path: uri!, status: Number(status), bytesSent: Number(sent), bytesReceived: Number(received),
        }
      }),
      errorLog: () => readOr(path.join(prefix, 'error.log')),
      stop: async () => {
        if (proc.exitCode === null && proc.signalCode === null) {
          proc.kill('SIGTERM') // fast shutdown: master and workers exit at once
          await exited
        }
        running.delete(proc)
        fs.rmSync(prefix, { recursive: true, force: true }) // a caller's own dataDir lives elsewhere and stays
      },
    }
  }
}

type ConfigInput = NginxOptions & { prefix: string, dataDir: string, bodyTemp: string, port: number, asRoot: boolean }

function config (o: ConfigInput): string {
  const auth = o.bearerToken === undefined
    ? ''
    : `      if ($http_authorization != "Bearer ${o.bearerToken}") { return 401; }\n`
  const serve = o.answer !== undefined
    ? `      return ${o.answer};\n`
    : [
        '      dav_methods PUT;',
        '      create_full_put_path on;',
        '      dav_access user:rw group:rw all:r;',
        '      client_max_body_size 0;',
        `      alias ${o.dataDir}/;`,
      ].join('\n') + '\n'
  return [
    o.asRoot ? 'user www-data;' : '',
    'worker_processes 1;',
    `pid ${path.join(o.prefix, 'nginx.pid')};`,
    'events { worker_connections 256; }',
    'http {',
    '  default_type application/octet-stream;',
    `  client_body_temp_path ${o.bodyTemp};`,
    `  proxy_temp_path ${path.join(o.prefix, 'body-temp')};`,
    `  fastcgi_temp_path ${path.join(o.prefix, 'body-temp')};`,
    `  uwsgi_temp_path ${path.join(o.prefix, 'body-temp')};`,
    `  scgi_temp_path ${path.join(o.prefix, 'body-temp')};`,
    '  log_not_found off;',
    '  log_format cas \'$request_method $uri $status $body_bytes_sent $request_length\';',
    `  access_log ${path.join(o.prefix, 'access.log')} cas;`,
    `  error_log ${path.join(o.prefix, 'error.log')} warn;`,
    o.serverConfig !== undefined
      ? o.serverConfig({ port: o.port, dataDir: o.dataDir, bodyTemp: o.bodyTemp })
      : ['  server {', `    listen 127.0.0.1:${o.port};`, '    location /cas/ {', auth + serve + '    }', '  }'].join('\n'),
    '}',
    '',
  ].join('\n')
}

function workerIds (): { uid: number, gid: number } {
  const line = fs.readFileSync('/etc/passwd', 'utf8').split('\n').find(l => l.startsWith('www-data:'))
  if (line === undefined) throw new Error('running as root, but there is no www-data user for nginx\'s workers; reinstall nginx: ' + INSTALL)
  const [, , uid, gid] = line.split(':')
  return { uid: Number(uid), gid: Number(gid) }
}

function chownTree (dir: string, uid: number, gid: number): void {
  fs.chownSync(dir, uid, gid)
  for (const entry of fs.readdirSync(dir, { recursive: true }) as string[]) {
    fs.chownSync(path.join(dir, entry), uid, gid)
  }
}

function readOr (file: string): string {
  try {
    return fs.readFileSync(file, 'utf8')
  } catch {
    return ''
  }
}

async function freePort (): Promise<number> {
  return await new Promise((resolve, reject) => {
    const server = net.createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo
      server.close(() => resolve(port))
    })
  })
}

async function waitListening (port: number): Promise<boolean> {
  for (let i = 0; i < 400; i++) {
    const ok = await new Promise<boolean>(resolve => {
      const socket = net.connect(port, '127.0.0.1')
      socket.once('connect', () => { socket.destroy(); resolve(true) })
      socket.once('error', () => resolve(false))
    })
    if (ok) return true
    await new Promise(resolve => setTimeout(resolve, 25))
  }
  return false
}

/** Every object the server holds: `files/ab/cdef…` and `index/…` paths relative to its data folder. */
export function serverObjects (dataDir: string): string[] {
  if (!fs.existsSync(dataDir)) return []
  return (fs.readdirSync(dataDir, { recursive: true, withFileTypes: true }) as fs.Dirent[])
    .filter(entry => entry.isFile())
    .map(entry => path.relative(dataDir, path.join(entry.parentPath, entry.name)))
    .sort()
}

/** sha512 hex of a file on the server. */
export function serverFileDigest (dataDir: string, rel: string): string {
  return crypto.createHash('sha512').update(fs.readFileSync(path.join(dataDir, rel))).digest('hex')
}
