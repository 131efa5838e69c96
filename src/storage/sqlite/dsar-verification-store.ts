/**
 * @module VerificationStore on SQLite: its own connection to the privacy store's file (`<dataDir>/privacy.db`,
 * table `dsar_verifications`, created by the privacy store's migrations). Each guarded transition is one
 * conditional UPDATE ... RETURNING, so two concurrent attempts cannot both pass a limit.
 */
import Database from 'better-sqlite3'
import { TesseraError } from '../../core/errors.js'
import type { IssueCode, VerificationMethod, VerificationRecord, VerificationStatus, VerificationStore } from '../../governance/dsar/verification-store.js'
import type { SqliteDatabase } from './sqlite-database.js'

interface Row {
  request_id: string; status: string; method: string | null; code_hash: string | null; code_salt: string | null; code_expires_at: number | null
  attempts: number; codes_sent: number; verified_at: number | null; verified_by: string | null; evidence: string | null; updated_at: number
}

const COLUMNS = 'request_id, status, method, code_hash, code_salt, code_expires_at, attempts, codes_sent, verified_at, verified_by, evidence, updated_at'

function toRecord(r: Row): VerificationRecord {
  const n = (v: number | null): number | null => (v === null ? null : Number(v))
  return {
    requestId: r.request_id, status: r.status as VerificationStatus, method: r.method as VerificationMethod | null, codeHash: r.code_hash,
    codeSalt: r.code_salt, codeExpiresAt: n(r.code_expires_at), attempts: Number(r.attempts), codesSent: Number(r.codes_sent),
    verifiedAt: n(r.verified_at), verifiedBy: r.verified_by, evidence: r.evidence, updatedAt: Number(r.updated_at),
  }
}

export class SqliteVerificationStore implements VerificationStore {
  readonly #db: SqliteDatabase

  /** `path`: the privacy store's file, already migrated. */
  constructor(path: string) {
    try {
      this.#db = new Database(path, { fileMustExist: true }) as unknown as SqliteDatabase
    } catch (cause) {
      throw new TesseraError('TESSERA_STORE', `cannot open the privacy store ${path}: ${(cause as Error).message}`, { cause })
    }
    this.#db.pragma('busy_timeout = 5000')
    this.#db.pragma('synchronous = FULL')
    // The evidence of an erased person is overwritten, not left readable in free pages.
    this.#db.pragma('secure_delete = ON')
  }

  async create(r: VerificationRecord): Promise<void> {
    this.#db.prepare(`INSERT INTO dsar_verifications (${COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (request_id) DO NOTHING`).run(
      r.requestId, r.status, r.method, r.codeHash, r.codeSalt, r.codeExpiresAt, r.attempts, r.codesSent, r.verifiedAt, r.verifiedBy, r.evidence, r.updatedAt)
  }

  async get(requestId: string): Promise<VerificationRecord | null> {
    const row = this.#db.prepare(`SELECT ${COLUMNS} FROM dsar_verifications WHERE request_id = ?`).get(requestId) as Row | undefined
    return row ? toRecord(row) : null
  }

  async issueCode(requestId: string, c: IssueCode): Promise<VerificationRecord | null> {
    const row = this.#db.prepare(`UPDATE dsar_verifications SET status = 'code_sent', code_hash = ?, code_salt = ?, code_expires_at = ?, attempts = 0,
      codes_sent = codes_sent + 1, updated_at = ? WHERE request_id = ? AND status IN ('pending', 'code_sent', 'locked') AND codes_sent < ?
      RETURNING ${COLUMNS}`).get(c.codeHash, c.codeSalt, c.codeExpiresAt, c.now, requestId, c.maxCodes) as Row | undefined
    return row ? toRecord(row) : null
  }

  async withdrawCode(requestId: string, codeHash: string, now: number): Promise<void> {
    this.#db.prepare(`UPDATE dsar_verifications SET status = 'pending', code_hash = NULL, code_salt = NULL, code_expires_at = NULL, updated_at = ?
      WHERE request_id = ? AND code_hash = ? AND status = 'code_sent'`).run(now, requestId, codeHash)
  }

  async takeAttempt(requestId: string, maxAttempts: number, now: number): Promise<VerificationRecord | null> {
    const row = this.#db.prepare(`UPDATE dsar_verifications SET attempts = attempts + 1, updated_at = ?
      WHERE request_id = ? AND status = 'code_sent' AND attempts < ? RETURNING ${COLUMNS}`).get(now, requestId, maxAttempts) as Row | undefined
    return row ? toRecord(row) : null
  }

  async lock(requestId: string, codeHash: string, now: number): Promise<void> {
    this.#db.prepare(`UPDATE dsar_verifications SET status = 'locked', code_hash = NULL, code_salt = NULL, updated_at = ?
      WHERE request_id = ? AND code_hash = ? AND status = 'code_sent'`).run(now, requestId, codeHash)
  }

  async markVerified(requestId: string, v: { method: VerificationMethod; by: string; evidence: string | null; now: number }): Promise<boolean> {
    return this.#db.prepare(`UPDATE dsar_verifications SET status = 'verified', method = ?, verified_by = ?, evidence = ?, verified_at = ?, updated_at = ?,
      code_hash = NULL, code_salt = NULL, code_expires_at = NULL WHERE request_id = ? AND status IN ('pending', 'code_sent', 'locked')`)
      .run(v.method, v.by, v.evidence, v.now, v.now, requestId).changes === 1
  }

  async eraseEvidenceOfErasedRequests(): Promise<number> {
    return this.#db.prepare(`UPDATE dsar_verifications SET evidence = '(erased)' WHERE evidence IS NOT NULL AND evidence <> '(erased)'
      AND request_id IN (SELECT id FROM dsar_requests WHERE identifier = '(erased)')`).run().changes
  }

  async close(): Promise<void> {
    this.#db.close()
  }
}
