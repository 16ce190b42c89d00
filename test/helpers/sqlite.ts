import path from 'node:path'
import type Database from 'better-sqlite3'
import { openDatabase, prepare } from '../../lib/pkgIndex/sqlite.js'

/**
 * Direct SQL on a store's index.db, for tests that play another tool (pnpm, a corrupting disk). Goes through the
 * library's openDatabase/prepare so no better-sqlite3 object is left to the garbage collector (Node 24 aborts).
 */
export function rawIndexDb (root: string, options?: Database.Options): {
  run: (sql: string, ...params: unknown[]) => void
  get: <T>(sql: string, ...params: unknown[]) => T
  all: <T>(sql: string, ...params: unknown[]) => T[]
  close: () => void
} {
  const db = openDatabase(path.join(root, 'index.db'), options)
  return {
    run: (sql, ...params) => { prepare(db, sql).run(...params) },
    get: <T>(sql: string, ...params: unknown[]) => prepare(db, sql).get(...params) as T,
    all: <T>(sql: string, ...params: unknown[]) => prepare(db, sql).all(...params) as T[],
    close: () => { db.close() },
  }
}

/** Puts a row with these raw bytes under `key`, as a damaged database or a foreign writer would. */
export function insertRawRow (root: string, key: string, data: Buffer): void {
  const db = rawIndexDb(root)
  db.run('INSERT OR REPLACE INTO package_index (key, data) VALUES (?, ?)', key, data)
  db.close()
}
