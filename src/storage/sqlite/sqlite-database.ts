/**
 * @module The subset of better-sqlite3 that the SQLite state adapter uses. We declare it here rather than
 * importing the vendor's types so that nothing outside this folder depends on better-sqlite3.
 */
export interface SqliteStatement {
  run(...params: unknown[]): { changes: number }
  get(...params: unknown[]): unknown
  all(...params: unknown[]): unknown[]
}

export interface SqliteDatabase {
  prepare(sql: string): SqliteStatement
  exec(sql: string): void
  pragma(sql: string, options?: { simple?: boolean }): unknown
  close(): void
  readonly inTransaction: boolean
}
