/**
 * @module ErasureStore on SQLite: its own write connection to the state file; the whole erasure is one IMMEDIATE
 * transaction. The id sets are bound as JSON parameters (`json_each`), never spliced into SQL.
 */
import Database from 'better-sqlite3'
import { TesseraError } from '../../core/errors.js'
import { ERASURE_TABLES, type ErasureResult, type ErasureStore } from '../../governance/dsar/erasure-store.js'
import type { SqliteDatabase } from './sqlite-database.js'

const SET = { M: '(SELECT value FROM json_each(@m))', K: '(SELECT value FROM json_each(@k))', V: '(SELECT value FROM json_each(@v))' } as const

export class SqliteErasureStore implements ErasureStore {
  readonly #db: SqliteDatabase

  constructor(path: string) {
    try {
      this.#db = new Database(path, { fileMustExist: true }) as unknown as SqliteDatabase
    } catch (cause) {
      throw new TesseraError('TESSERA_STORE', `cannot open the state store ${path}: ${(cause as Error).message}`, { cause })
    }
    this.#db.pragma('busy_timeout = 10000')
    // Deleted rows are overwritten with zeros, not left readable in free pages.
    this.#db.pragma('secure_delete = ON')
  }

  async erase(profileId: string, values: readonly string[] = []): Promise<ErasureResult> {
    this.#db.exec('BEGIN IMMEDIATE')
    try {
      const members = (this.#db.prepare(`WITH RECURSIVE members(id) AS (SELECT ? UNION SELECT p.id FROM profiles p JOIN members m ON p.merged_into = m.id)
        SELECT id FROM members`).all(profileId) as { id: string }[]).map((r) => r.id)
      const ids = this.#db.prepare('SELECT key, value FROM identifiers WHERE profile_id IN (SELECT value FROM json_each(?))').all(JSON.stringify(members)) as { key: string; value: string }[]
      const params = { m: JSON.stringify(members), k: JSON.stringify(ids.map((i) => i.key)), v: JSON.stringify([...new Set([...ids.map((i) => i.value), ...values])]) }
      const deleted: Record<string, number> = {}
      for (const t of ERASURE_TABLES) {
        if (t.optional && !this.#db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?").get(t.table)) continue
        const where = t.where.replace(/\b(IN) ([MKV])\b/g, (_, op: string, set: 'M' | 'K' | 'V') => `${op} ${SET[set]}`)
        deleted[t.table] = this.#db.prepare(`DELETE FROM ${t.table} WHERE ${where}`).run(params).changes
      }
      this.#db.exec('COMMIT')
      // The WAL still holds the page images from before the deletion: copy the zeroed pages into the file and
      // empty the WAL (a reader holding an older snapshot can keep some frames until the next checkpoint).
      this.#db.pragma('wal_checkpoint(TRUNCATE)')
      return { identifierKeys: ids.map((i) => i.key), profileIds: members, deleted }
    } catch (error) {
      this.#db.exec('ROLLBACK')
      throw error
    }
  }

  async close(): Promise<void> {
    this.#db.close()
  }
}
