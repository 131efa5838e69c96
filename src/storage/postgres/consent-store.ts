/**
 * @module PostgreSQL adapter of the ConsentStore port: `consent_records` in Tessera's schema with its own
 * migration table (`consent_schema_migrations`), so it never collides with the state or audit migrations.
 * Triggers refuse UPDATE and DELETE: the ledger is append-only evidence.
 */
import type { ConsentEvidence, ConsentRecordInput, ConsentSource, ConsentState, StoredConsentRecord } from '../../governance/consent/consent-record.js'
import type { ConsentStore } from '../../governance/consent/consent-store.js'
import { isTesseraError, TesseraError } from '../../core/errors.js'
import { loadPostgresDriver, type PostgresPool, type PostgresResult } from './postgres-pool.js'
import { inTransaction, num, run } from './postgres-query.js'

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
]

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
    await inTransaction(this.#pool, 'migrate the consent store', async (c) => {
      await run(c, 'lock the consent migrations', 'SELECT pg_advisory_xact_lock(hashtextextended($1, 0))', [`tessera-consent-migrations:${this.#schema}`])
      await run(c, 'create the schema', `CREATE SCHEMA IF NOT EXISTS ${this.#schema}; SET LOCAL search_path TO ${this.#schema}`)
      await run(c, 'create the consent migrations table',
        'CREATE TABLE IF NOT EXISTS consent_schema_migrations (version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())')
      const { rows } = await run<{ v: number | null }>(c, 'read the consent schema version', 'SELECT max(version) AS v FROM consent_schema_migrations')
      const current = rows[0]?.v ?? 0
      if (current > CONSENT_MIGRATIONS.length) {
        throw new TesseraError('TESSERA_STORE', `consent tables in ${this.#schema} are at version ${current}, newer than this Tessera (${CONSENT_MIGRATIONS.length}); upgrade Tessera`)
      }
      for (let v = current; v < CONSENT_MIGRATIONS.length; v++) {
        await run(c, `apply consent migration ${v + 1}`, CONSENT_MIGRATIONS[v]!)
        await run(c, 'record a consent migration', 'INSERT INTO consent_schema_migrations (version) VALUES ($1)', [v + 1])
      }
    })
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

  async history(identifier: string, options: { readonly limit: number; readonly afterSeq?: number }): Promise<StoredConsentRecord[]> {
    const { rows } = await run<Row>(this.#pool, 'read a consent history',
      `SELECT ${COLUMNS} FROM consent_records WHERE identifier = $1 AND seq > $2 ORDER BY seq LIMIT $3`, [identifier, options.afterSeq ?? -1, options.limit])
    return rows.map(toStored)
  }

  async close(): Promise<void> {
    await this.#pool.end()
  }
}
