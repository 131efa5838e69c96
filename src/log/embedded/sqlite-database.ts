/**
 * @module The subset of a better-sqlite3 connection that the embedded event log uses.
 *
 * We don't use the types from `better-sqlite3` here so that no vendor type leaks out of the adapter: only
 * `openEmbeddedEventLog` imports the library, and tests (or a caller that wants to tune the connection) can hand
 * in any object with this shape.
 */

/** A value SQLite can bind: the log only stores text and integers (and NULL keys). */
export type SqliteValue = string | number | bigint | null

export interface SqliteRunResult {
  readonly changes: number
}

/**
 * A prepared statement; its `?` parameters are bound from one array, in order. Statements are synchronous: they
 * finish (and release their read snapshot) before returning.
 */
export interface SqliteStatement {
  run(params: readonly SqliteValue[]): SqliteRunResult
  /** First row, or `undefined` when there is none. */
  get(params: readonly SqliteValue[]): unknown
  all(params: readonly SqliteValue[]): unknown[]
}

/** A synchronous SQLite connection (better-sqlite3's `Database`). */
export interface SqliteDatabase {
  prepare(sql: string): SqliteStatement
  /** Runs one or more statements without results (DDL, PRAGMAs, BEGIN/COMMIT). */
  exec(sql: string): unknown
  /** True while a transaction is open (SQLite may roll one back by itself after FULL/IOERR/BUSY). */
  readonly inTransaction: boolean
  close(): unknown
}

/** Opens a connection to a database file, creating the file if needed. */
export type SqliteOpener = (path: string) => SqliteDatabase
