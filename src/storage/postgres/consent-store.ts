/**
 * @module PostgreSQL adapter of the ConsentStore port: `consent_records` in Tessera's schema with its own
 * migration table (`consent_schema_migrations`), so it never collides with the state or audit migrations.
 * Triggers refuse UPDATE and DELETE: the ledger is append-only evidence.
 */
import type { ConsentEvidence, ConsentRecordInput, ConsentSource, ConsentState, StoredConsentRecord } from '../../governance/consent/consent-record.js'
import type { ConsentStore, LedgerChanges, LedgerCursor } from '../../governance/consent/consent-store.js'
import { isTesseraError, TesseraError } from '../../core/errors.js'
import { loadPostgresDriver, type PostgresPool, type PostgresResult } from './postgres-pool.js'
import { migrateSideStore, num, run } from './postgres-query.js'

export const CONSENT_MIGRATIONS: readonly string[] = [
  `
  CREATE TABLE consent_records (
    seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, identifier text COLLATE "C" NOT NULL, purpose text NOT NULL,
    state text NOT NULL, source text NOT NULL, legal_basis text NOT NULL, jurisdiction text NOT NULL, time bigint NOT NULL,
    evidence jsonb NOT NULL
  );
  CREATE INDEX consent_records_identifier ON consent_records (identifier, purpose, seq);
  CREATE FUNCTION consent_append_only() RETURNS trigger LANGUAGE plpgsql AS $fn$
  BEGIN
    RAISE EXCEPTION 'the consent ledger is append-only (% on %)', TG_OP, TG_TABLE_NAME;
  END
  $fn$;
  CREATE TRIGGER consent_records_append_only BEFORE UPDATE OR DELETE ON consent_records FOR EACH ROW EXECUTE FUNCTION consent_append_only();
  `,
  // 2: the appending transaction of each record, so `changes` can follow the ledger although seqs are taken before
  // commit (a transaction holding seq 10 may commit after one holding seq 11 was read)
  `
  ALTER TABLE consent_records ADD COLUMN xid xid8 NOT NULL DEFAULT pg_current_xact_id();
  CREATE INDEX consent_records_xid ON consent_records (xid, seq);
  `,
]

/**
 * A position of {@link PostgresConsentStore.changes}: `h` reads the records of transactions from `h` on (the oldest
 * one still running when the previous pass started, or later); a pass in progress adds where it started (`n`, the
 * next pass's `h`) and the last record it gave (`x`, `s`).
 */
interface PostgresLedgerCursor { readonly h: string; readonly n?: string; readonly x?: string; readonly s?: string }

const XID = /^[0-9]{1,20}$/

function parseCursor(cursor: LedgerCursor): PostgresLedgerCursor {
  const parts = cursor.split(':')
  if ((parts.length === 1 || parts.length === 4) && parts.every((p) => XID.test(p))) {
    const [h, n, x, s] = parts as [string, string?, string?, string?]
    return n === undefined ? { h } : { h, n, x: x!, s: s! }
  }
  throw new TesseraError('TESSERA_STORE', `not a consent ledger position of this store: ${JSON.stringify(cursor)}`)
}

export interface PostgresConsentStoreOptions {
  readonly url: string
  readonly schema: string
  readonly poolSize?: number
  readonly applicationName?: string
}

interface Row {
  seq: string
  identifier: string
  purpose: string
  state: string
  source: string
  legal_basis: string
  jurisdiction: string
  time: string
  evidence: ConsentEvidence
}

const COLUMNS = 'seq, identifier, purpose, state, source, legal_basis, jurisdiction, time, evidence'

function toStored(row: Row): StoredConsentRecord {
  return {
    seq: num(row.seq), identifier: row.identifier, purpose: row.purpose, state: row.state as ConsentState, source: row.source as ConsentSource,
    legalBasis: row.legal_basis, jurisdiction: row.jurisdiction, time: num(row.time), evidence: row.evidence,
  }
}

export async function openPostgresConsentStore(options: PostgresConsentStoreOptions): Promise<PostgresConsentStore> {
  const createPool = await loadPostgresDriver()
  return new PostgresConsentStore(createPool({
    url: options.url, schema: options.schema, poolSize: options.poolSize ?? 4, applicationName: options.applicationName ?? 'tessera-consent',
  }), options.schema)
}

export class PostgresConsentStore implements ConsentStore {
  readonly #pool: PostgresPool
  readonly #schema: string

  constructor(pool: PostgresPool, schema: string) {
    this.#pool = pool
    this.#schema = schema
  }


  async migrate(): Promise<void> {
    await migrateSideStore(this.#pool, { schema: this.#schema, table: 'consent', label: 'consent', migrations: CONSENT_MIGRATIONS })
  }

  async append(records: readonly ConsentRecordInput[]): Promise<number[]> {
    if (records.length === 0) return []
    const { rows } = await run<{ seq: string }>(this.#pool, 'append to the consent ledger',
      `INSERT INTO consent_records (identifier, purpose, state, source, legal_basis, jurisdiction, time, evidence)
       SELECT i, p, s, so, l, j, t, e::jsonb
       FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::bigint[], $8::text[]) WITH ORDINALITY AS x(i, p, s, so, l, j, t, e, o)
       ORDER BY o
       RETURNING seq`,
      [records.map((r) => r.identifier), records.map((r) => r.purpose), records.map((r) => r.state), records.map((r) => r.source),
        records.map((r) => r.legalBasis), records.map((r) => r.jurisdiction), records.map((r) => r.time), records.map((r) => JSON.stringify(r.evidence))])
    return rows.map((r) => num(r.seq)).sort((a, b) => a - b)
  }

  async latest(identifiers: readonly string[]): Promise<StoredConsentRecord[]> {
    if (identifiers.length === 0) return []
    // Ingest waits on this read: one retry on a fresh pooled connection hides a connection that died while idle.
    const read = (): Promise<PostgresResult<Row>> => run<Row>(this.#pool, 'read the consent in force',
      `SELECT ${COLUMNS} FROM consent_records WHERE seq IN (
         SELECT max(seq) FROM consent_records WHERE identifier = ANY($1::text[]) AND state <> 'invalid' GROUP BY identifier, purpose
         UNION
         SELECT max(seq) FROM consent_records WHERE identifier = ANY($1::text[]) AND state = 'granted' AND jurisdiction <> 'UNKNOWN' GROUP BY identifier
       ) ORDER BY seq`, [[...new Set(identifiers)]])
    const { rows } = await read().catch((error: unknown) => {
      if (isTesseraError(error) && error.code === 'TESSERA_STORE') return read()
      throw error
    })
    return rows.map(toStored)
  }

  async identifiers(options: { readonly limit: number; readonly after?: string }): Promise<string[]> {
    const { rows } = await run<{ identifier: string }>(this.#pool, 'page the consent ledger\'s identifiers',
      'SELECT DISTINCT identifier FROM consent_records WHERE identifier > $1 ORDER BY identifier LIMIT $2', [options.after ?? '', options.limit])
    return rows.map((r) => r.identifier)
  }

  /**
   * Follows transaction ids, not seqs. A pass reads, in (xid, seq) order, every visible record of a transaction from
   * its `h` on, and first notes the oldest transaction still running (`pg_snapshot_xmin`): every older one has ended
   * and is visible to the pass, so the next pass starts there. A record is named by the first pass that sees it, and
   * again by later passes until its transaction is older than the one where a pass started (a few passes at most).
   */
  async changes(after: LedgerCursor | null, limit: number): Promise<LedgerChanges> {
    const horizon = async (): Promise<string> => (await run<{ xmin: string }>(this.#pool, 'read the consent ledger\'s horizon',
      'SELECT pg_snapshot_xmin(pg_current_snapshot())::text AS xmin')).rows[0]!.xmin
    if (after === null) return { identifiers: [], next: await horizon(), more: false }
    const at = parseCursor(after)
    const start = at.n ?? await horizon()
    const { rows } = await run<{ xid: string; seq: string; identifier: string }>(this.#pool, 'read the consent ledger\'s changes',
      `SELECT xid::text AS xid, seq, identifier FROM consent_records
       WHERE xid >= $1::xid8 AND ($2::xid8 IS NULL OR (xid, seq) > ($2::xid8, $3::bigint))
       ORDER BY xid, seq LIMIT $4`, [at.h, at.x ?? null, at.s ?? null, limit])
    const identifiers = [...new Set(rows.map((r) => r.identifier))]
    if (rows.length < limit) return { identifiers, next: start, more: false }
    const last = rows.at(-1)!
    return { identifiers, next: `${at.h}:${start}:${last.xid}:${last.seq}`, more: true }
  }

  async history(identifier: string, options: { readonly limit: number; readonly afterSeq?: number }): Promise<StoredConsentRecord[]> {
    const { rows } = await run<Row>(this.#pool, 'read a consent history',
      `SELECT ${COLUMNS} FROM consent_records WHERE identifier = $1 AND seq > $2 ORDER BY seq LIMIT $3`, [identifier, options.afterSeq ?? -1, options.limit])
    return rows.map(toStored)
  }

  async close(): Promise<void> {
    await this.#pool.end()
  }
}
