/**
 * @module PostgreSQL adapter of the PrivacyStore port: `privacy_*` tables in Tessera's schema with their own
 * migration table (`privacy_schema_migrations`). The budget spend is one conditional upsert (row lock), so two
 * concurrent counts cannot both pass a limit.
 */
import type { JsonObject } from '../../core/event.js'
import type { BudgetResult, BudgetSpend, DsarAcknowledgement, DsarExtension, DsarRecord, DsarStatus, PrivacyStore } from '../../governance/privacy-store.js'
import { loadPostgresDriver, type PostgresPool } from './postgres-pool.js'
import { migrateSideStore, num, run } from './postgres-query.js'

export const PRIVACY_MIGRATIONS: readonly string[] = [
  `
  CREATE TABLE privacy_budget (
    principal text COLLATE "C" NOT NULL, period_start bigint NOT NULL, spent_micros bigint NOT NULL CHECK (spent_micros >= 0),
    PRIMARY KEY (principal, period_start)
  );
  `,
  `
  CREATE TABLE dsar_requests (
    id text COLLATE "C" PRIMARY KEY, type text NOT NULL, identifier text NOT NULL, jurisdiction text NOT NULL, regime text NOT NULL,
    status text NOT NULL, received_at bigint NOT NULL, due_at bigint NOT NULL, basis text NOT NULL, requested_by text NOT NULL,
    detail jsonb NOT NULL, result jsonb, completed_at bigint
  );
  CREATE INDEX dsar_requests_received ON dsar_requests (received_at);
  CREATE TABLE suppression (hash text COLLATE "C" PRIMARY KEY, request_id text NOT NULL, created_at bigint NOT NULL);
  `,
  // Requester verification of data-subject requests (VerificationStore, src/storage/postgres/dsar-verification-store.ts).
  `
  CREATE TABLE dsar_verifications (
    request_id text COLLATE "C" PRIMARY KEY, status text NOT NULL, method text, code_hash text, code_salt text, code_expires_at bigint,
    attempts integer NOT NULL DEFAULT 0, codes_sent integer NOT NULL DEFAULT 0, verified_at bigint, verified_by text, evidence text,
    updated_at bigint NOT NULL
  );
  `,
  // The acknowledgement (CCPA) and the one extension of a request's deadline (see the SQLite adapter).
  `
  ALTER TABLE dsar_requests ADD COLUMN ack_due_at bigint, ADD COLUMN acknowledged_at bigint, ADD COLUMN acknowledged_via text,
    ADD COLUMN extension jsonb;
  `,
]

interface DsarRow {
  id: string; type: string; identifier: string; jurisdiction: string; regime: string; status: string; received_at: string; due_at: string
  basis: string; requested_by: string; detail: JsonObject; result: JsonObject | null; completed_at: string | null
  ack_due_at: string | null; acknowledged_at: string | null; acknowledged_via: string | null; extension: DsarExtension | null
}

const DSAR_COLUMNS = 'id, type, identifier, jurisdiction, regime, status, received_at, due_at, basis, requested_by, detail, result, completed_at, ' +
  'ack_due_at, acknowledged_at, acknowledged_via, extension'

function toDsar(r: DsarRow): DsarRecord {
  return {
    id: r.id, type: r.type as DsarRecord['type'], identifier: r.identifier, jurisdiction: r.jurisdiction, regime: r.regime as DsarRecord['regime'],
    status: r.status as DsarStatus, receivedAt: num(r.received_at), dueAt: num(r.due_at), basis: r.basis, requestedBy: r.requested_by,
    detail: r.detail, result: r.result, completedAt: r.completed_at === null ? null : num(r.completed_at),
    acknowledgeBy: r.ack_due_at === null ? null : num(r.ack_due_at),
    acknowledgement: r.acknowledged_at === null ? null : { at: num(r.acknowledged_at), via: r.acknowledged_via ?? '' },
    extension: r.extension,
  }
}

export interface PostgresPrivacyStoreOptions {
  readonly url: string
  readonly schema: string
  readonly poolSize?: number
  readonly applicationName?: string
}

export async function openPostgresPrivacyStore(options: PostgresPrivacyStoreOptions): Promise<PostgresPrivacyStore> {
  const createPool = await loadPostgresDriver()
  return new PostgresPrivacyStore(createPool({
    url: options.url, schema: options.schema, poolSize: options.poolSize ?? 2, applicationName: options.applicationName ?? 'tessera-privacy',
  }), options.schema)
}

export class PostgresPrivacyStore implements PrivacyStore {
  readonly #pool: PostgresPool
  readonly #schema: string

  constructor(pool: PostgresPool, schema: string) {
    this.#pool = pool
    this.#schema = schema
  }

  get pool(): PostgresPool {
    return this.#pool
  }

  async migrate(): Promise<void> {
    await migrateSideStore(this.#pool, { schema: this.#schema, table: 'privacy', label: 'privacy', migrations: PRIVACY_MIGRATIONS })
  }

  async spendBudget(s: BudgetSpend): Promise<BudgetResult> {
    if (!Number.isSafeInteger(s.micros) || s.micros <= 0) throw new RangeError('a budget spend must be a positive whole number of millionths')
    if (s.micros > s.limitMicros) return { ok: false, spentMicros: await this.budgetSpent(s.principal, s.periodStart) }
    const { rows } = await run<{ spent_micros: string }>(this.#pool, 'spend privacy budget',
      `INSERT INTO privacy_budget (principal, period_start, spent_micros) VALUES ($1, $2, $3)
       ON CONFLICT (principal, period_start) DO UPDATE SET spent_micros = privacy_budget.spent_micros + EXCLUDED.spent_micros
       WHERE privacy_budget.spent_micros + EXCLUDED.spent_micros <= $4 RETURNING spent_micros`, [s.principal, s.periodStart, s.micros, s.limitMicros])
    if (rows[0]) return { ok: true, spentMicros: num(rows[0].spent_micros) }
    return { ok: false, spentMicros: await this.budgetSpent(s.principal, s.periodStart) }
  }

  async budgetSpent(principal: string, periodStart: number): Promise<number> {
    const { rows } = await run<{ spent_micros: string }>(this.#pool, 'read privacy budget',
      'SELECT spent_micros FROM privacy_budget WHERE principal = $1 AND period_start = $2', [principal, periodStart])
    return rows[0] ? num(rows[0].spent_micros) : 0
  }

  async createRequest(r: DsarRecord): Promise<void> {
    await run(this.#pool, 'record a data-subject request', `INSERT INTO dsar_requests (${DSAR_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11::jsonb, $12::jsonb, $13, $14, $15, $16, $17::jsonb)`, [
      r.id, r.type, r.identifier, r.jurisdiction, r.regime, r.status, r.receivedAt, r.dueAt, r.basis, r.requestedBy, JSON.stringify(r.detail),
      r.result === null ? null : JSON.stringify(r.result), r.completedAt, r.acknowledgeBy, r.acknowledgement?.at ?? null, r.acknowledgement?.via ?? null,
      r.extension === null ? null : JSON.stringify(r.extension)])
  }

  async getRequest(id: string): Promise<DsarRecord | null> {
    const { rows } = await run<DsarRow>(this.#pool, 'read a data-subject request', `SELECT ${DSAR_COLUMNS} FROM dsar_requests WHERE id = $1`, [id])
    return rows[0] ? toDsar(rows[0]) : null
  }

  async listRequests(limit: number): Promise<DsarRecord[]> {
    const { rows } = await run<DsarRow>(this.#pool, 'list data-subject requests', `SELECT ${DSAR_COLUMNS} FROM dsar_requests ORDER BY received_at DESC, id DESC LIMIT $1`, [limit])
    return rows.map(toDsar)
  }

  async finishRequest(id: string, u: { status: DsarStatus; result: JsonObject; completedAt: number; identifier: string; detail: JsonObject }): Promise<void> {
    await run(this.#pool, 'finish a data-subject request', 'UPDATE dsar_requests SET status = $1, result = $2::jsonb, completed_at = $3, identifier = $4, detail = $5::jsonb WHERE id = $6',
      [u.status, JSON.stringify(u.result), u.completedAt, u.identifier, JSON.stringify(u.detail), id])
  }

  async acknowledgeRequest(id: string, ack: DsarAcknowledgement): Promise<boolean> {
    const { rowCount } = await run(this.#pool, 'acknowledge a data-subject request',
      'UPDATE dsar_requests SET acknowledged_at = $1, acknowledged_via = $2 WHERE id = $3 AND acknowledged_at IS NULL', [ack.at, ack.via, id])
    return rowCount === 1
  }

  async extendRequest(id: string, dueAt: number, extension: DsarExtension): Promise<boolean> {
    const { rowCount } = await run(this.#pool, 'extend a data-subject request',
      'UPDATE dsar_requests SET due_at = $1, extension = $2::jsonb WHERE id = $3 AND extension IS NULL', [dueAt, JSON.stringify(extension), id])
    return rowCount === 1
  }

  async redactRequests(identifierKeys: readonly string[]): Promise<number> {
    if (identifierKeys.length === 0) return 0
    const { rowCount } = await run(this.#pool, 'redact data-subject requests',
      `UPDATE dsar_requests SET identifier = '(erased)', detail = '{}'::jsonb,
       acknowledged_via = CASE WHEN acknowledged_via LIKE 'recorded:%' THEN 'recorded: (erased)' ELSE acknowledged_via END,
       extension = extension || jsonb_build_object('reason', '(erased)',
         'via', CASE WHEN extension ->> 'via' LIKE 'recorded:%' THEN 'recorded: (erased)' ELSE extension ->> 'via' END)
       WHERE identifier = ANY($1::text[])`, [[...new Set(identifierKeys)]])
    return rowCount ?? 0
  }

  async addSuppressions(hashes: readonly string[], requestId: string, time: number): Promise<void> {
    if (hashes.length === 0) return
    await run(this.#pool, 'add suppressions', `INSERT INTO suppression (hash, request_id, created_at) SELECT h, $2, $3 FROM unnest($1::text[]) AS h
      ON CONFLICT (hash) DO NOTHING`, [[...new Set(hashes)], requestId, time])
  }

  async suppressed(hashes: readonly string[]): Promise<Set<string>> {
    if (hashes.length === 0) return new Set()
    const { rows } = await run<{ hash: string }>(this.#pool, 'check suppressions', 'SELECT hash FROM suppression WHERE hash = ANY($1::text[])', [[...new Set(hashes)]])
    return new Set(rows.map((r) => r.hash))
  }

  async hasSuppressions(): Promise<boolean> {
    const { rows } = await run<{ found: boolean }>(this.#pool, 'check for suppressions', 'SELECT EXISTS (SELECT 1 FROM suppression) AS found', [])
    return rows[0]!.found
  }

  async close(): Promise<void> {
    await this.#pool.end()
  }
}
