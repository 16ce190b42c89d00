import { execFileSync } from 'node:child_process'

/**
 * A command prefix that runs the rest of a command line in a private mount namespace where `dir` is a read-only
 * bind mount of itself: the process sees a read-only file system (EROFS), as on a read-only Docker layer or NFS
 * export, while the test outside still writes it freely. Needs `unshare` and `mount` (util-linux) and the right to
 * make a mount namespace (root, or unprivileged user namespaces): fails the test naming what is missing.
 */
export function readOnlyWrapper (dir: string): string[] {
  for (const tool of ['unshare', 'mount']) {
    try {
      execFileSync('sh', ['-c', `command -v ${tool}`], { stdio: 'ignore' })
    } catch {
      throw new Error(`the read-only store tests need \`${tool}\` (util-linux): apt-get install util-linux`)
    }
  }
  const user = process.getuid?.() === 0 ? [] : ['--map-root-user']
  const script = 'mount --bind "$0" "$0" && mount -o remount,bind,ro "$0" "$0" && exec "$@"'
  return ['unshare', ...user, '--mount', 'sh', '-c', script, dir]
}
