import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'

/**
 * A private copy of `index.db` (and its WAL, when it has one) in the system temp folder, for reading a store
 * that cannot be written. SQLite cannot open a WAL database read-only where it may not create the `-shm` file
 * beside it (a read-only mount fails with SQLITE_CANTOPEN), and this build of SQLite takes no `immutable` URI;
 * a copy opens anywhere and leaves the store untouched. It is a snapshot: rows written meanwhile by a process
 * that can write the store are not seen. `dispose` removes it.
 */
export function snapshotIndexDb (file: string): { file: string, dispose: () => void } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cas-index-'))
  const copy = path.join(dir, path.basename(file))
  const dispose = (): void => { fs.rmSync(dir, { recursive: true, force: true }) }
  try {
    fs.copyFileSync(file, copy)
    try {
      fs.copyFileSync(`${file}-wal`, `${copy}-wal`)
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err
    }
  } catch (err) {
    dispose()
    throw err
  }
  return { file: copy, dispose }
}
