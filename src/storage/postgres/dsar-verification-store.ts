/**
 * @module VerificationStore on PostgreSQL: a pool of its own on the privacy tables (`dsar_verifications`, created by
 * the privacy store's migrations). Each guarded transition is one conditional UPDATE ... RETURNING (a row lock), so
 * two concurrent attempts, in one process or many, cannot both pass a limit.
 */
import type { IssueCode, VerificationMethod, VerificationRecord, VerificationStatus, VerificationStore } from '../../governance/dsar/verification-store.js'
import { loadPostgresDriver, type PostgresPool } from './postgres-pool.js'
import { num, run } from './postgres-query.js'

interface Row {
  request_id: string; status: string; method: string | null; code_hash: string | null; code_salt: string | null; code_expires_at: string | null
  attempts: number; codes_sent: number; verified_at: string | null; verified_by: string | null; evidence: string | null; updated_at: string
}

const COLUMNS = 'request_id, status, method, code_hash, code_salt, code_expires_at, attempts, codes_sent, verified_at, verified_by, evidence, updated_at'

function toRecord(r: Row): VerificationRecord {
  const n = (v: string | null): number | null => (v === null ? null : num(v))
  return {
    requestId: r.request_id, status: r.status as VerificationStatus, method: r.method as VerificationMethod | null, codeHash: r.code_hash,
    codeSalt: r.code_salt, codeExpiresAt: n(r.code_expires_at), attempts: Number(r.attempts), codesSent: Number(r.codes_sent),
    verifiedAt: n(r.verified_at), verifiedBy: r.verified_by, evidence: r.evidence, updatedAt: num(r.updated_at),
  }
}

export async function openPostgresVerificationStore(options: { url: string; schema: string }): Promise<PostgresVerificationStore> {
  const createPool = await loadPostgresDriver()
  return new PostgresVerificationStore(createPool({ url: options.url, schema: options.schema, poolSize: 2, applicationName: 'tessera-dsar-verification' }))
}

export class PostgresVerificationStore implements VerificationStore {
  readonly #pool: PostgresPool

  constructor(pool: PostgresPool) {
    this.#pool = pool
  }

  async create(r: VerificationRecord): Promise<void> {
    await run(this.#pool, 'record a requester verification', `INSERT INTO dsar_verifications (${COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)
      ON CONFLICT (request_id) DO NOTHING`, [r.requestId, r.status, r.method, r.codeHash, r.codeSalt, r.codeExpiresAt, r.attempts, r.codesSent, r.verifiedAt,
      r.verifiedBy, r.evidence, r.updatedAt])
  }

  async get(requestId: string): Promise<VerificationRecord | null> {
    const { rows } = await run<Row>(this.#pool, 'read a requester verification', `SELECT ${COLUMNS} FROM dsar_verifications WHERE request_id = $1`, [requestId])
    return rows[0] ? toRecord(rows[0]) : null
  }

  async issueCode(requestId: string, c: IssueCode): Promise<VerificationRecord | null> {
    const { rows } = await run<Row>(this.#pool, 'issue a verification code', `UPDATE dsar_verifications SET status = 'code_sent', code_hash = $1, code_salt = $2,
      code_expires_at = $3, attempts = 0, codes_sent = codes_sent + 1, updated_at = $4
      WHERE request_id = $5 AND status IN ('pending', 'code_sent', 'locked') AND codes_sent < $6 RETURNING ${COLUMNS}`,
    [c.codeHash, c.codeSalt, c.codeExpiresAt, c.now, requestId, c.maxCodes])
    return rows[0] ? toRecord(rows[0]) : null
  }

  async withdrawCode(requestId: string, codeHash: string, now: number): Promise<void> {
    await run(this.#pool, 'withdraw a verification code', `UPDATE dsar_verifications SET status = 'pending', code_hash = NULL, code_salt = NULL, code_expires_at = NULL,
      updated_at = $1 WHERE request_id = $2 AND code_hash = $3 AND status = 'code_sent'`, [now, requestId, codeHash])
  }

  async takeAttempt(requestId: string, maxAttempts: number, now: number): Promise<VerificationRecord | null> {
    const { rows } = await run<Row>(this.#pool, 'spend a verification attempt', `UPDATE dsar_verifications SET attempts = attempts + 1, updated_at = $1
      WHERE request_id = $2 AND status = 'code_sent' AND attempts < $3 RETURNING ${COLUMNS}`, [now, requestId, maxAttempts])
    return rows[0] ? toRecord(rows[0]) : null
  }

  async lock(requestId: string, codeHash: string, now: number): Promise<void> {
    await run(this.#pool, 'lock a verification code', `UPDATE dsar_verifications SET status = 'locked', code_hash = NULL, code_salt = NULL, updated_at = $1
      WHERE request_id = $2 AND code_hash = $3 AND status = 'code_sent'`, [now, requestId, codeHash])
  }

  async markVerified(requestId: string, v: { method: VerificationMethod; by: string; evidence: string | null; now: number }): Promise<boolean> {
    const { rowCount } = await run(this.#pool, 'mark a requester verified', `UPDATE dsar_verifications SET status = 'verified', method = $1, verified_by = $2,
      evidence = $3, verified_at = $4, updated_at = $4, code_hash = NULL, code_salt = NULL, code_expires_at = NULL
      WHERE request_id = $5 AND status IN ('pending', 'code_sent', 'locked')`, [v.method, v.by, v.evidence, v.now, requestId])
    return rowCount === 1
  }

  async eraseEvidenceOfErasedRequests(): Promise<number> {
    const { rowCount } = await run(this.#pool, 'erase verification evidence', `UPDATE dsar_verifications SET evidence = '(erased)'
      WHERE evidence IS NOT NULL AND evidence <> '(erased)' AND request_id IN (SELECT id FROM dsar_requests WHERE identifier = '(erased)')`)
    return rowCount ?? 0
  }

  async close(): Promise<void> {
    await this.#pool.end()
  }
}
