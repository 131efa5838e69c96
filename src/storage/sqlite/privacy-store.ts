/**
 * @module SQLite adapter of the PrivacyStore port: its own file (`<dataDir>/privacy.db`, WAL), versioned with
 * `user_version`. The budget spend is one conditional upsert, so two concurrent counts cannot both pass a limit.
 */
import { mkdirSync } from 'node:fs'
import { dirname } from 'node:path'
import Database from 'better-sqlite3'
import { TesseraError } from '../../core/errors.js'
import type { BudgetResult, BudgetSpend, PrivacyStore } from '../../governance/privacy-store.js'
import type { SqliteDatabase } from './sqlite-database.js'

export const PRIVACY_MIGRATIONS: readonly string[] = [
  `
  CREATE TABLE privacy_budget (
    principal TEXT NOT NULL, period_start INTEGER NOT NULL, spent_micros INTEGER NOT NULL CHECK (spent_micros >= 0),
    PRIMARY KEY (principal, period_start)
  ) WITHOUT ROWID;
  `,
]

export class SqlitePrivacyStore implements PrivacyStore {
  readonly #db: SqliteDatabase

  constructor(options: { readonly path: string }) {
    mkdirSync(dirname(options.path), { recursive: true })
    try {
      this.#db = new Database(options.path) as unknown as SqliteDatabase
    } catch (cause) {
      throw new TesseraError('TESSERA_STORE', `cannot open the privacy store ${options.path}: ${(cause as Error).message}`, { cause })
    }
    this.#db.pragma('busy_timeout = 5000')
    this.#db.pragma('journal_mode = WAL')
    this.#db.pragma('synchronous = FULL')
  }

  get db(): SqliteDatabase {
    return this.#db
  }

  async migrate(): Promise<void> {
    const current = this.#db.pragma('user_version', { simple: true }) as number
    if (current > PRIVACY_MIGRATIONS.length) {
      throw new TesseraError('TESSERA_STORE', `privacy store is at version ${current}, newer than this Tessera (${PRIVACY_MIGRATIONS.length}); upgrade Tessera`)
    }
    for (let v = current; v < PRIVACY_MIGRATIONS.length; v++) {
      this.#db.exec('BEGIN IMMEDIATE')
      try {
        this.#db.exec(PRIVACY_MIGRATIONS[v]!)
        this.#db.pragma(`user_version = ${v + 1}`)
        this.#db.exec('COMMIT')
      } catch (error) {
        this.#db.exec('ROLLBACK')
        throw error
      }
    }
  }

  async spendBudget(s: BudgetSpend): Promise<BudgetResult> {
    if (!Number.isSafeInteger(s.micros) || s.micros <= 0) throw new RangeError('a budget spend must be a positive whole number of millionths')
    if (s.micros > s.limitMicros) return { ok: false, spentMicros: await this.budgetSpent(s.principal, s.periodStart) }
    const row = this.#db.prepare(`INSERT INTO privacy_budget (principal, period_start, spent_micros) VALUES (?, ?, ?)
      ON CONFLICT (principal, period_start) DO UPDATE SET spent_micros = spent_micros + excluded.spent_micros
      WHERE spent_micros + excluded.spent_micros <= ? RETURNING spent_micros`).get(s.principal, s.periodStart, s.micros, s.limitMicros) as { spent_micros: number } | undefined
    if (row) return { ok: true, spentMicros: Number(row.spent_micros) }
    return { ok: false, spentMicros: await this.budgetSpent(s.principal, s.periodStart) }
  }

  async budgetSpent(principal: string, periodStart: number): Promise<number> {
    const row = this.#db.prepare('SELECT spent_micros FROM privacy_budget WHERE principal = ? AND period_start = ?').get(principal, periodStart) as { spent_micros: number } | undefined
    return row ? Number(row.spent_micros) : 0
  }

  async close(): Promise<void> {
    this.#db.close()
  }
}
