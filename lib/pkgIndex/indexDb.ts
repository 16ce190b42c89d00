import path from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import type Database from 'better-sqlite3'
import { CasError, FileAccessError, IndexBusyError, IndexCorruptError, StoreClosedError } from '../errors.js'
import type { PackageIndex } from '../types.js'
import type { IndexBackend, PackageIndexEntry } from './backend.js'
import { decodePackageIndex, encodePackageIndex } from './codec.js'
import { assertPackageIndexKey, isPackageIndexKey } from './key.js'
import { snapshotIndexDb } from './readOnlySnapshot.js'
import { openDatabase, prepare } from './sqlite.js'

/** File name of the v11 package index database inside the store root (pnpm 11/12). */
export const INDEX_DB_FILE = 'index.db'

// SQLite's own busy handler sleeps on the calling thread, which here is the event loop: keep its share short and
// do the long wait as async back-off, so a store waiting on another process's transaction keeps serving its other
// tasks (lock polling, hashing, other verbs).
const SQLITE_SYNC_WAIT_MS = 50
const LIST_PAGE = 256

const SCHEMA = `
  CREATE TABLE IF NOT EXISTS package_index (key TEXT PRIMARY KEY, data BLOB NOT NULL) WITHOUT ROWID;
  CREATE TABLE IF NOT EXISTS package_index_alias (key TEXT PRIMARY KEY, target TEXT NOT NULL) WITHOUT ROWID;
`

interface PendingWrite {
  key: string
  data: Buffer
  resolve: () => void
  reject: (err: unknown) => void
}

/**
 * The v11 package index: one SQLite database shared with pnpm 11/12, in WAL mode so readers never wait for a
 * writer. Writes made in the same turn of the event loop are batched into one `BEGIN IMMEDIATE` transaction (a
 * package install writes hundreds of rows; one fsync for all of them), so a row is either all there or absent.
 * SQLITE_BUSY (another process is writing) is retried with back-off up to `busyTimeoutMs`.
 */
export class IndexDb implements IndexBackend {
  readonly format = 'v11'
  readonly path: string
  readonly #db: Database.Database
  readonly #busyTimeoutMs: number
  readonly #get: Database.Statement<[string], { data: Buffer }>
  readonly #getAlias: Database.Statement<[string], { target: string }>
  readonly #put: Database.Statement<[string, Buffer]>
  readonly #delete: Database.Statement<[string]>
  readonly #deleteAliases: Database.Statement<[string, string]>
  readonly #page: Database.Statement<[string], { key: string, data: Buffer }>
  readonly #count: Database.Statement<[], { n: number }>
  readonly #putBatch: Database.Transaction<(batch: PendingWrite[]) => void>
  readonly #deleteTx: Database.Transaction<(key: string, revision?: string) => boolean>
  #pending: PendingWrite[] = []
  #flushing: Promise<void> | undefined
  #dispose: (() => void) | undefined
  #closed = false

  private constructor (file: string, db: Database.Database, busyTimeoutMs: number, dispose?: () => void) {
    this.path = file
    this.#dispose = dispose
    this.#db = db
    this.#busyTimeoutMs = busyTimeoutMs
    this.#get = prepare(db, 'SELECT data FROM package_index WHERE key = ?')
    this.#getAlias = prepare(db, 'SELECT target FROM package_index_alias WHERE key = ?')
    this.#put = prepare(db, 'INSERT OR REPLACE INTO package_index (key, data) VALUES (?, ?)')
    this.#delete = prepare(db, 'DELETE FROM package_index WHERE key = ?')
    this.#deleteAliases = prepare(db, 'DELETE FROM package_index_alias WHERE target = ? OR key = ?')
    this.#page = prepare(db, 'SELECT key, data FROM package_index WHERE key > ? ORDER BY key LIMIT ' + LIST_PAGE)
    this.#count = prepare(db, 'SELECT count(*) AS n FROM package_index')
    this.#putBatch = db.transaction((batch: PendingWrite[]) => {
      for (const { key, data } of batch) this.#put.run(key, data)
    })
    this.#deleteTx = db.transaction((key: string, revision?: string) => {
      // Compared inside the write transaction, so no writer can slip in between the check and the delete.
      if (revision !== undefined && this.#get.get(key)?.data.toString('base64') !== revision) return false
      const deleted = this.#delete.run(key).changes > 0
      this.#deleteAliases.run(key, key)
      return deleted
    })
  }

  /**
   * Opens (creating if needed) `<root>/index.db`. Waits while another process holds it locked; a file that is not
   * a database fails with `ERR_CAS_INDEX_CORRUPT`.
   */
  static async open (
    root: string, options: { busyTimeoutMs: number, durable: boolean, readOnly?: boolean },
  ): Promise<IndexDb> {
    const file = path.join(root, INDEX_DB_FILE)
    if (options.readOnly === true) {
      const snapshot = snapshotIndexDb(file)
      try {
        const db = openDatabase(snapshot.file, { readonly: true, fileMustExist: true, timeout: SQLITE_SYNC_WAIT_MS })
        return new IndexDb(file, db, options.busyTimeoutMs, () => { db.close(); snapshot.dispose() })
      } catch (err) {
        snapshot.dispose()
        throw sqliteError(file, err)
      }
    }
    let db: Database.Database
    try {
      db = openDatabase(file, { timeout: SQLITE_SYNC_WAIT_MS })
    } catch (err) {
      throw sqliteError(file, err)
    }
    try {
      let journalMode: Database.Statement<[], { journal_mode: string }> | undefined
      await retryBusy(file, options.busyTimeoutMs, () => {
        // WAL is what pnpm uses; a reader then never blocks on a writer. The mode is stored in the file, so this
        // is a no-op on every open but the first.
        journalMode ??= prepare<[], { journal_mode: string }>(db, 'PRAGMA journal_mode')
        const mode = journalMode.get()?.journal_mode
        if (mode !== 'wal') db.exec('PRAGMA journal_mode = WAL')
        db.exec(SCHEMA)
      })
      // In WAL mode NORMAL still keeps the database consistent after a crash; FULL adds a disk flush per commit
      // so a committed row also survives power loss (the store's fsync option).
      db.exec(`PRAGMA synchronous = ${options.durable ? 'FULL' : 'NORMAL'}`)
      return new IndexDb(file, db, options.busyTimeoutMs)
    } catch (err) {
      db.close()
      throw err
    }
  }

  async read (key: string): Promise<PackageIndex | undefined> {
    assertPackageIndexKey(key)
    const row = await this.#run(() => {
      const direct = this.#get.get(key)
      if (direct !== undefined) return direct
      // pnpm 12 files a tarball known by two integrities (of the .tgz and of the plain tar) under one key and
      // points the other at it.
      const alias = this.#getAlias.get(key)
      return alias === undefined ? undefined : this.#get.get(alias.target)
    })
    return row === undefined ? undefined : this.#decode(key, row.data)
  }

  async write (key: string, index: PackageIndex): Promise<void> {
    assertPackageIndexKey(key)
    const data = encodePackageIndex(index)
    await new Promise<void>((resolve, reject) => {
      this.#pending.push({ key, data, resolve, reject })
      this.#flushing ??= new Promise(resolve => setImmediate(resolve)).then(async () => { await this.#flush() })
    })
  }

  async delete (key: string, revision?: string): Promise<boolean> {
    // Any key a listing gave can be deleted, even one no reader accepts: that is how such a row is repaired.
    if (typeof key !== 'string' || key === '') assertPackageIndexKey(key)
    return await this.#run(() => this.#deleteTx.immediate(key, revision))
  }

  async * list (): AsyncGenerator<PackageIndexEntry> {
    // Pages by key instead of holding one statement open across yields: an open statement would keep a read
    // transaction (and the WAL) pinned for the whole scan, and would forbid writes on this connection meanwhile.
    let after = ''
    for (;;) {
      const rows = await this.#run(() => this.#page.all(after))
      for (const row of rows) {
        try {
          const index = this.#decode(row.key, row.data)
          // A row under a key no pnpm writes (hand-edited, another tool) cannot be read back by key: listed with
          // its content, so prune still counts what it references, and flagged, so verify reports and drops it.
          const keyProblem = isPackageIndexKey(row.key) ? undefined : `its key ${JSON.stringify(row.key.slice(0, 200))} is not one pnpm 11/12 write`
          yield { key: row.key, index, revision: row.data.toString('base64'), ...(keyProblem === undefined ? {} : { keyProblem }) }
        } catch (err) {
          if (!(err instanceof IndexCorruptError)) throw err
          yield { key: row.key, error: err, revision: row.data.toString('base64') }
        }
      }
      if (rows.length < LIST_PAGE) return
      after = rows[rows.length - 1]!.key
    }
  }

  async count (): Promise<number | undefined> {
    return await this.#run(() => this.#count.get()!.n)
  }

  async close (): Promise<void> {
    while (this.#flushing !== undefined) await this.#flushing
    this.#closed = true
    if (this.#dispose !== undefined) this.#dispose()
    else this.#db.close()
  }

  async #flush (): Promise<void> {
    const batch = this.#pending
    this.#pending = []
    try {
      await this.#run(() => { this.#putBatch.immediate(batch) })
      for (const write of batch) write.resolve()
    } catch (err) {
      for (const write of batch) write.reject(err)
    } finally {
      this.#flushing = undefined
      if (this.#pending.length > 0) {
        this.#flushing = new Promise(resolve => setImmediate(resolve)).then(async () => { await this.#flush() })
      }
    }
  }

  async #run<T> (op: () => T): Promise<T> {
    // A closed connection would throw a bare TypeError: a listing still iterated after close() says what happened.
    if (this.#closed) throw new StoreClosedError()
    return await retryBusy(this.path, this.#busyTimeoutMs, op)
  }

  #decode (key: string, data: Buffer): PackageIndex {
    try {
      return decodePackageIndex(data)
    } catch (err) {
      throw new IndexCorruptError(this.path, `the row ${JSON.stringify(key)} is not a package index (${(err as Error).message})`, {
        cause: err, scope: 'one-index',
      })
    }
  }
}

/** Runs `op`, retrying with back-off while SQLite answers SQLITE_BUSY, for at most `timeoutMs` in all. */
async function retryBusy<T> (file: string, timeoutMs: number, op: () => T): Promise<T> {
  const started = Date.now()
  let pause = 5
  for (;;) {
    try {
      return op()
    } catch (err) {
      if (!isBusy(err)) throw sqliteError(file, err)
      const waited = Date.now() - started
      if (waited >= timeoutMs) throw new IndexBusyError(file, waited, err)
      await sleep(Math.min(pause, timeoutMs - waited) * (0.5 + Math.random()))
      pause = Math.min(pause * 2, 200)
    }
  }
}

function isBusy (err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code
  return typeof code === 'string' && (code.startsWith('SQLITE_BUSY') || code.startsWith('SQLITE_LOCKED'))
}

/** Maps a SQLite failure to the store's errors: damage to `ERR_CAS_INDEX_CORRUPT`, access to `ERR_CAS_FILE_ACCESS`. */
function sqliteError (file: string, err: unknown): unknown {
  if (err instanceof CasError) return err
  const code = (err as { code?: unknown } | null)?.code
  if (typeof code !== 'string' || !code.startsWith('SQLITE_')) return err
  if (code.startsWith('SQLITE_NOTADB') || code.startsWith('SQLITE_CORRUPT')) {
    return new IndexCorruptError(file, (err as Error).message, { cause: err })
  }
  return new FileAccessError(file, Object.assign(new Error((err as Error).message), { code }))
}
