/**
 * @module SQLite adapter of the PrivacyStore port: its own file (`<dataDir>/privacy.db`, WAL), versioned with
 * `user_version`. The budget spend is one conditional upsert, so two concurrent counts cannot both pass a limit.
 */
import { mkdirSync } from 'node:fs'
import { dirname } from 'node:path'
import Database from 'better-sqlite3'
import { TesseraError } from '../../core/errors.js'
import type { JsonObject } from '../../core/event.js'
import type { BudgetResult, BudgetSpend, DsarAcknowledgement, DsarExtension, DsarRecord, DsarStatus, PrivacyStore } from '../../governance/privacy-store.js'
import type { SqliteDatabase } from './sqlite-database.js'

export const PRIVACY_MIGRATIONS: readonly string[] = [
  `
  CREATE TABLE privacy_budget (
    principal TEXT NOT NULL, period_start INTEGER NOT NULL, spent_micros INTEGER NOT NULL CHECK (spent_micros >= 0),
    PRIMARY KEY (principal, period_start)
  ) WITHOUT ROWID;
  `,
  `
  CREATE TABLE dsar_requests (
    id TEXT PRIMARY KEY, type TEXT NOT NULL, identifier TEXT NOT NULL, jurisdiction TEXT NOT NULL, regime TEXT NOT NULL,
    status TEXT NOT NULL, received_at INTEGER NOT NULL, due_at INTEGER NOT NULL, basis TEXT NOT NULL, requested_by TEXT NOT NULL,
    detail TEXT NOT NULL, result TEXT, completed_at INTEGER
  ) WITHOUT ROWID;
  CREATE INDEX dsar_requests_received ON dsar_requests(received_at);
  CREATE TABLE suppression (hash TEXT PRIMARY KEY, request_id TEXT NOT NULL, created_at INTEGER NOT NULL) WITHOUT ROWID;
  `,
  // Requester verification of data-subject requests (VerificationStore, src/storage/sqlite/dsar-verification-store.ts).
  `
  CREATE TABLE dsar_verifications (
    request_id TEXT PRIMARY KEY, status TEXT NOT NULL, method TEXT, code_hash TEXT, code_salt TEXT, code_expires_at INTEGER,
    attempts INTEGER NOT NULL DEFAULT 0, codes_sent INTEGER NOT NULL DEFAULT 0, verified_at INTEGER, verified_by TEXT, evidence TEXT,
    updated_at INTEGER NOT NULL
  ) WITHOUT ROWID;
  `,
  // The acknowledgement (CCPA) and the one extension of a request's deadline. Requests recorded before have no
  // acknowledgement deadline; their first deadline is the one they had.
  `
  ALTER TABLE dsar_requests ADD COLUMN ack_due_at INTEGER;
  ALTER TABLE dsar_requests ADD COLUMN acknowledged_at INTEGER;
  ALTER TABLE dsar_requests ADD COLUMN acknowledged_via TEXT;
  ALTER TABLE dsar_requests ADD COLUMN extension TEXT;
  `,
]

interface DsarRow {
  id: string; type: string; identifier: string; jurisdiction: string; regime: string; status: string; received_at: number; due_at: number
  basis: string; requested_by: string; detail: string; result: string | null; completed_at: number | null
  ack_due_at: number | null; acknowledged_at: number | null; acknowledged_via: string | null; extension: string | null
}

const DSAR_COLUMNS = 'id, type, identifier, jurisdiction, regime, status, received_at, due_at, basis, requested_by, detail, result, completed_at, ' +
  'ack_due_at, acknowledged_at, acknowledged_via, extension'

function toDsar(r: DsarRow): DsarRecord {
  return {
    id: r.id, type: r.type as DsarRecord['type'], identifier: r.identifier, jurisdiction: r.jurisdiction, regime: r.regime as DsarRecord['regime'],
    status: r.status as DsarStatus, receivedAt: Number(r.received_at), dueAt: Number(r.due_at), basis: r.basis, requestedBy: r.requested_by,
    detail: JSON.parse(r.detail) as JsonObject, result: r.result === null ? null : JSON.parse(r.result) as JsonObject,
    completedAt: r.completed_at === null ? null : Number(r.completed_at),
    acknowledgeBy: r.ack_due_at === null ? null : Number(r.ack_due_at),
    acknowledgement: r.acknowledged_at === null ? null : { at: Number(r.acknowledged_at), via: r.acknowledged_via ?? '' },
    extension: r.extension === null ? null : JSON.parse(r.extension) as DsarExtension,
  }
}

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
    // An erased person's identifier is blanked in request records: overwritten, not left in free space.
    this.#db.pragma('secure_delete = ON')
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
        // Another process (the pipeline worker) may have migrated meanwhile: re-read under the write lock.
        if ((this.#db.pragma('user_version', { simple: true }) as number) > v) {
          this.#db.exec('COMMIT')
          continue
        }
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

  async createRequest(r: DsarRecord): Promise<void> {
    this.#db.prepare(`INSERT INTO dsar_requests (${DSAR_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`).run(
      r.id, r.type, r.identifier, r.jurisdiction, r.regime, r.status, r.receivedAt, r.dueAt, r.basis, r.requestedBy, JSON.stringify(r.detail),
      r.result === null ? null : JSON.stringify(r.result), r.completedAt, r.acknowledgeBy, r.acknowledgement?.at ?? null, r.acknowledgement?.via ?? null,
      r.extension === null ? null : JSON.stringify(r.extension))
  }

  async getRequest(id: string): Promise<DsarRecord | null> {
    const row = this.#db.prepare(`SELECT ${DSAR_COLUMNS} FROM dsar_requests WHERE id = ?`).get(id) as DsarRow | undefined
    return row ? toDsar(row) : null
  }

  async listRequests(limit: number): Promise<DsarRecord[]> {
    return (this.#db.prepare(`SELECT ${DSAR_COLUMNS} FROM dsar_requests ORDER BY received_at DESC, id DESC LIMIT ?`).all(limit) as DsarRow[]).map(toDsar)
  }

  async finishRequest(id: string, u: { status: DsarStatus; result: JsonObject; completedAt: number; identifier: string; detail: JsonObject }): Promise<void> {
    this.#db.prepare('UPDATE dsar_requests SET status = ?, result = ?, completed_at = ?, identifier = ?, detail = ? WHERE id = ?')
      .run(u.status, JSON.stringify(u.result), u.completedAt, u.identifier, JSON.stringify(u.detail), id)
  }

  async acknowledgeRequest(id: string, ack: DsarAcknowledgement): Promise<boolean> {
    return this.#db.prepare('UPDATE dsar_requests SET acknowledged_at = ?, acknowledged_via = ? WHERE id = ? AND acknowledged_at IS NULL')
      .run(ack.at, ack.via, id).changes === 1
  }

  async extendRequest(id: string, dueAt: number, extension: DsarExtension): Promise<boolean> {
    return this.#db.prepare('UPDATE dsar_requests SET due_at = ?, extension = ? WHERE id = ? AND extension IS NULL')
      .run(dueAt, JSON.stringify(extension), id).changes === 1
  }

  async redactRequests(identifierKeys: readonly string[]): Promise<number> {
    if (identifierKeys.length === 0) return 0
    const changed = this.#db.prepare(`UPDATE dsar_requests SET identifier = '(erased)', detail = '{}',
      acknowledged_via = CASE WHEN acknowledged_via LIKE 'recorded:%' THEN 'recorded: (erased)' ELSE acknowledged_via END,
      extension = CASE WHEN extension IS NULL THEN NULL ELSE json_set(extension, '$.reason', '(erased)',
        '$.via', CASE WHEN extension ->> '$.via' LIKE 'recorded:%' THEN 'recorded: (erased)' ELSE extension ->> '$.via' END) END
      WHERE identifier IN (SELECT value FROM json_each(?))`)
      .run(JSON.stringify([...new Set(identifierKeys)])).changes
    // The WAL still holds the page images from before: copy the blanked pages into the file and empty the WAL.
    this.#db.pragma('wal_checkpoint(TRUNCATE)')
    return changed
  }

  async addSuppressions(hashes: readonly string[], requestId: string, time: number): Promise<void> {
    const insert = this.#db.prepare('INSERT OR IGNORE INTO suppression (hash, request_id, created_at) VALUES (?, ?, ?)')
    this.#db.exec('BEGIN IMMEDIATE')
    try {
      for (const h of hashes) insert.run(h, requestId, time)
      this.#db.exec('COMMIT')
    } catch (error) {
      this.#db.exec('ROLLBACK')
      throw error
    }
  }

  async suppressed(hashes: readonly string[]): Promise<Set<string>> {
    if (hashes.length === 0) return new Set()
    const rows = this.#db.prepare('SELECT hash FROM suppression WHERE hash IN (SELECT value FROM json_each(?))').all(JSON.stringify([...new Set(hashes)])) as { hash: string }[]
    return new Set(rows.map((r) => r.hash))
  }

  async hasSuppressions(): Promise<boolean> {
    const row = this.#db.prepare('SELECT EXISTS (SELECT 1 FROM suppression) AS found').get() as { found: number }
    return row.found === 1
  }

  async close(): Promise<void> {
    this.#db.close()
  }
}
