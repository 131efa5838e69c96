/**
 * @module SQLite adapter of the IdentityAuditOutbox port: the `identity_audit_outbox` table of the state database
 * (state migration 5), on a connection of its own beside the pipeline's. One process owns a state file (the process
 * lock), so there is no lease to take: the rows are read, handed to the relay, and removed in a short
 * `BEGIN IMMEDIATE` transaction afterwards (the pipeline's batches wait for it through the busy timeout).
 */
import { mkdirSync } from 'node:fs'
import { dirname } from 'node:path'
import Database from 'better-sqlite3'
import { TesseraError } from '../../core/errors.js'
import { fromOutboxColumns, type IdentityAuditOutbox, type IdentityAuditRow, type OutboxColumns } from '../../identity/identity-audit-outbox.js'
import type { SqliteDatabase } from './sqlite-database.js'

export class SqliteIdentityAuditOutbox implements IdentityAuditOutbox {
  readonly #db: SqliteDatabase

  /** Opens a connection on a migrated state database (`path`). */
  constructor(path: string) {
    mkdirSync(dirname(path), { recursive: true })
    try {
      this.#db = new Database(path, { fileMustExist: true }) as unknown as SqliteDatabase
    } catch (cause) {
      throw new TesseraError('TESSERA_STORE', `cannot open the state database ${path} for the identity audit relay: ${(cause as Error).message}`, { cause })
    }
    this.#db.pragma('busy_timeout = 10000')
  }

  async drain(limit: number, work: (rows: readonly IdentityAuditRow[]) => Promise<void>): Promise<number | null> {
    const rows = (this.#db.prepare('SELECT * FROM identity_audit_outbox ORDER BY seq LIMIT ?').all(limit) as OutboxColumns[]).map((r) => fromOutboxColumns(r))
    if (rows.length === 0) return 0
    await work(rows)
    const remove = this.#db.prepare('DELETE FROM identity_audit_outbox WHERE seq = ?')
    this.#db.exec('BEGIN IMMEDIATE')
    try {
      for (const r of rows) remove.run(r.seq)
      this.#db.exec('COMMIT')
    } catch (error) {
      if (this.#db.inTransaction) this.#db.exec('ROLLBACK')
      throw new TesseraError('TESSERA_STORE', `could not remove relayed rows from the identity audit outbox: ${(error as Error).message}`, { cause: error })
    }
    return rows.length
  }

  async pending(): Promise<number> {
    return (this.#db.prepare('SELECT count(*) AS n FROM identity_audit_outbox').get() as { n: number }).n
  }

  async close(): Promise<void> {
    this.#db.close()
  }
}
