import { execFileSync } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'

const identity = ['-c', 'user.name=cas-test', '-c', 'user.email=cas-test@example.invalid', '-c', 'init.defaultBranch=main']

/** Makes a bare repository with two commits under `dir`; returns its path. */
export function makeBareRepo (dir: string): string {
  const work = path.join(dir, 'work')
  const bare = path.join(dir, 'origin.git')
  fs.mkdirSync(work)
  execFileSync('git', [...identity, 'init', '-q', work])
  fs.writeFileSync(path.join(work, 'README'), 'hello\n')
  execFileSync('git', [...identity, '-C', work, 'add', '.'])
  execFileSync('git', [...identity, '-C', work, 'commit', '-q', '-m', 'first'])
  fs.mkdirSync(path.join(work, 'src'))
  fs.writeFileSync(path.join(work, 'src', 'index.js'), 'module.exports = 42\n'.repeat(1000))
  execFileSync('git', [...identity, '-C', work, 'add', '.'])
  execFileSync('git', [...identity, '-C', work, 'commit', '-q', '-m', 'second'])
  execFileSync('git', ['clone', '-q', '--bare', work, bare])
  return bare
}
