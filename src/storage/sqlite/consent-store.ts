/**
 * @module SQLite adapter of the ConsentStore port: its own file (`<dataDir>/consent.db`, WAL), versioned with
 * `user_version`. Triggers refuse UPDATE and DELETE: the ledger is append-only evidence.
 */
import { mkdirSync } from 'node:fs'
import { dirname } from 'node:path'
import Database from 'better-sqlite3'
import { TesseraError } from '../../core/errors.js'
import type { ConsentEvidence, ConsentRecordInput, ConsentSource, ConsentState, StoredConsentRecord } from '../../governance/consent/consent-record.js'
import type { ConsentStore, LedgerChanges, LedgerCursor } from '../../governance/consent/consent-store.js'
import type { SqliteDatabase, SqliteStatement } from './sqlite-database.js'

interface ConsentStatements {
  readonly insert: SqliteStatement
  readonly latest: SqliteStatement
  readonly history: SqliteStatement
  readonly identifiers: SqliteStatement
  readonly position: SqliteStatement
  readonly changes: SqliteStatement
}

export const CONSENT_MIGRATIONS: readonly string[] = [
  `
  CREATE TABLE consent_records (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, identifier TEXT NOT NULL, purpose TEXT NOT NULL, state TEXT NOT NULL,
    source TEXT NOT NULL, legal_basis TEXT NOT NULL, jurisdiction TEXT NOT NULL, time INTEGER NOT NULL, evidence TEXT NOT NULL
  );
  CREATE INDEX consent_records_identifier ON consent_records(identifier, purpose, seq);
  CREATE TRIGGER consent_records_no_update BEFORE UPDATE ON consent_records BEGIN SELECT RAISE(ABORT, 'the consent ledger is append-only'); END;
  CREATE TRIGGER consent_records_no_delete BEFORE DELETE ON consent_records BEGIN SELECT RAISE(ABORT, 'the consent ledger is append-only'); END;
  `,
]

interface Row {
  seq: number
  identifier: string
  purpose: string
  state: string
  source: string
  legal_basis: string
  jurisdiction: string
  time: number
  evidence: string
}

const COLUMNS = 'seq, identifier, purpose, state, source, legal_basis, jurisdiction, time, evidence'

export function toStoredConsent(row: Row): StoredConsentRecord {
  return {
    seq: Number(row.seq), identifier: row.identifier, purpose: row.purpose, state: row.state as ConsentState, source: row.source as ConsentSource,
    legalBasis: row.legal_basis, jurisdiction: row.jurisdiction, time: Number(row.time), evidence: JSON.parse(row.evidence) as ConsentEvidence,
  }
}

export interface SqliteConsentStoreOptions {
  readonly path: string
  readonly readonly?: boolean
}

export class SqliteConsentStore implements ConsentStore {
  readonly #db: SqliteDatabase

  constructor(options: SqliteConsentStoreOptions) {
    const readonly = options.readonly ?? false
    if (!readonly) mkdirSync(dirname(options.path), { recursive: true })
    try {
      this.#db = new Database(options.path, { readonly, fileMustExist: readonly }) as unknown as SqliteDatabase
    } catch (cause) {
      throw new TesseraError('TESSERA_STORE', `cannot open the consent store ${options.path}: ${(cause as Error).message}`, { cause })
    }
    this.#db.pragma('busy_timeout = 5000')
    if (!readonly) {
      this.#db.pragma('journal_mode = WAL')
      this.#db.pragma('synchronous = NORMAL')
    }
  }

  async migrate(): Promise<void> {
    const current = this.#db.pragma('user_version', { simple: true }) as number
    if (current > CONSENT_MIGRATIONS.length) {
      throw new TesseraError('TESSERA_STORE', `consent store is at version ${current}, newer than this Tessera (${CONSENT_MIGRATIONS.length}); upgrade Tessera`)
    }
    for (let v = current; v < CONSENT_MIGRATIONS.length; v++) {
      this.#db.exec('BEGIN IMMEDIATE')
      try {
        this.#db.exec(CONSENT_MIGRATIONS[v]!)
        this.#db.pragma(`user_version = ${v + 1}`)
        this.#db.exec('COMMIT')
      } catch (error) {
        this.#db.exec('ROLLBACK')
        throw error
      }
    }
  }

  /** Statements prepared once (after migrate: they name the tables); ingest reads the ledger on every request. */
  #statements: ConsentStatements | undefined

  #prepared(): ConsentStatements {
    return (this.#statements ??= {
      insert: this.#db.prepare(`INSERT INTO consent_records (identifier, purpose, state, source, legal_basis, jurisdiction, time, evidence)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING seq`),
      latest: this.#db.prepare(`SELECT ${COLUMNS} FROM consent_records WHERE seq IN (
          SELECT max(seq) FROM consent_records WHERE identifier IN (SELECT value FROM json_each(?)) AND state <> 'invalid' GROUP BY identifier, purpose
          UNION
          SELECT max(seq) FROM consent_records WHERE identifier IN (SELECT value FROM json_each(?)) AND state = 'granted' AND jurisdiction <> 'UNKNOWN' GROUP BY identifier
        ) ORDER BY seq`),
      history: this.#db.prepare(`SELECT ${COLUMNS} FROM consent_records WHERE identifier = ? AND seq > ? ORDER BY seq LIMIT ?`),
      identifiers: this.#db.prepare('SELECT DISTINCT identifier FROM consent_records WHERE identifier > ? ORDER BY identifier LIMIT ?'),
      position: this.#db.prepare('SELECT coalesce(max(seq), 0) AS seq FROM consent_records'),
      changes: this.#db.prepare('SELECT seq, identifier FROM consent_records WHERE seq > ? ORDER BY seq LIMIT ?'),
    })
  }

  async append(records: readonly ConsentRecordInput[]): Promise<number[]> {
    if (records.length === 0) return []
    const { insert } = this.#prepared()
    this.#db.exec('BEGIN IMMEDIATE')
    try {
      const seqs = records.map((r) => Number((insert.get(r.identifier, r.purpose, r.state, r.source, r.legalBasis, r.jurisdiction, r.time, JSON.stringify(r.evidence)) as { seq: number }).seq))
      this.#db.exec('COMMIT')
      return seqs
    } catch (error) {
      this.#db.exec('ROLLBACK')
      throw new TesseraError('TESSERA_STORE', `could not append to the consent ledger: ${(error as Error).message}`, { cause: error })
    }
  }

  async latest(identifiers: readonly string[]): Promise<StoredConsentRecord[]> {
    if (identifiers.length === 0) return []
    const ids = JSON.stringify([...new Set(identifiers)])
    const rows = this.#prepared().latest.all(ids, ids) as Row[]
    return rows.map(toStoredConsent)
  }

  async identifiers(options: { readonly limit: number; readonly after?: string }): Promise<string[]> {
    return (this.#prepared().identifiers.all(options.after ?? '', options.limit) as { identifier: string }[]).map((r) => r.identifier)
  }

  /**
   * The cursor is a seq: SQLite commits one writer at a time and assigns seqs inside the write transaction, so
   * what a reader sees is always a prefix of the seqs, and nothing can commit later below a seq already seen.
   */
  async changes(after: LedgerCursor | null, limit: number): Promise<LedgerChanges> {
    const statements = this.#prepared()
    if (after === null) return { identifiers: [], next: String((statements.position.get() as { seq: number }).seq), more: false }
    const from = Number(after)
    if (!Number.isSafeInteger(from) || from < 0) throw new TesseraError('TESSERA_STORE', `not a consent ledger position of this store: ${JSON.stringify(after)}`)
    const rows = statements.changes.all(from, limit) as { seq: number; identifier: string }[]
    return {
      identifiers: [...new Set(rows.map((r) => r.identifier))],
      next: rows.length === 0 ? after : String(rows.at(-1)!.seq),
      more: rows.length === limit,
    }
  }

  async history(identifier: string, options: { readonly limit: number; readonly afterSeq?: number }): Promise<StoredConsentRecord[]> {
    const rows = this.#prepared().history.all(identifier, options.afterSeq ?? -1, options.limit) as Row[]
    return rows.map(toStoredConsent)
  }

  async close(): Promise<void> {
    this.#db.close()
  }
}
