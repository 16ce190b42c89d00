import Database from 'better-sqlite3'

// better-sqlite3 12 builds its Database and Statement on node::ObjectWrap. On Node 24, ObjectWrap's destructor
// unregisters an environment cleanup hook and aborts the process (`Assertion failed: (env) != nullptr` in
// RemoveEnvironmentCleanupHook, exit 134) when V8's garbage collector destroys such an object at a moment with no
// current Node environment, as it does at exit. So no better-sqlite3 object is ever left for the collector: each
// one is kept reachable here, and Node frees them itself, safely, when the environment shuts down. The cost is a
// few hundred bytes per opened store and per prepared statement (a fixed set per store). better-sqlite3 13 fixes
// this (Node-API), but requires Node 22, and this library supports Node 20.
const pinned: object[] = []

/** Opens a SQLite database that lives until the process exits (see above). */
export function openDatabase (file: string, options?: Database.Options): Database.Database {
  const db = new Database(file, options)
  pinned.push(db)
  return db
}

/** Prepares a statement that lives until the process exits (see above). Prepare once, reuse. */
export function prepare<P extends unknown[] = unknown[], R = unknown> (
  db: Database.Database, sql: string,
): Database.Statement<P, R> {
  const statement = db.prepare<P, R>(sql)
  pinned.push(statement)
  return statement
}
