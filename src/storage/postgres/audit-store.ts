/**
 * @module PostgreSQL adapter of the AuditStore port: `audit_*` tables in Tessera's schema with their own
 * migration table (`audit_schema_migrations`), so they never collide with the state store's migrations.
 * Appends from several processes take turns on a transaction-scoped advisory lock, so sequence numbers
 * (the Merkle leaf indexes) have no gaps. Triggers refuse UPDATE and DELETE.
 */
import type { NewAuditRecord } from '../../governance/audit-entry.js'
import type { AuditQuery, AuditStore, KeyedAuditRecord, StoredAuditRecord, StoredCheckpoint } from '../../governance/audit-store.js'
import { loadPostgresDriver, type PostgresClient, type PostgresPool } from './postgres-pool.js'
import { inTransaction, migrateSideStore, num, run } from './postgres-query.js'

export const AUDIT_MIGRATIONS: readonly string[] = [
  `
  CREATE TABLE audit_entries (
    seq bigint PRIMARY KEY, time bigint NOT NULL, kind text NOT NULL, actor text NOT NULL, entry text NOT NULL,
    leaf_hash bytea NOT NULL
  );
  CREATE INDEX audit_entries_time ON audit_entries (time);
  CREATE INDEX audit_entries_actor ON audit_entries (actor, seq);
  CREATE TABLE audit_subjects (profile_id text COLLATE "C" NOT NULL, seq bigint NOT NULL, PRIMARY KEY (profile_id, seq));
  CREATE TABLE audit_checkpoints (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, tree_size bigint NOT NULL, root_hash bytea NOT NULL,
    time bigint NOT NULL, note text NOT NULL
  );
  CREATE FUNCTION audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $fn$
  BEGIN
    RAISE EXCEPTION 'the audit log is append-only (% on %)', TG_OP, TG_TABLE_NAME;
  END
  $fn$;
  CREATE TRIGGER audit_entries_append_only BEFORE UPDATE OR DELETE ON audit_entries FOR EACH ROW EXECUTE FUNCTION audit_append_only();
  CREATE TRIGGER audit_checkpoints_append_only BEFORE UPDATE OR DELETE ON audit_checkpoints FOR EACH ROW EXECUTE FUNCTION audit_append_only();
  `,
  // 2: keys of entries appended once (appendOnce: the identity audit relay), and searching by kind
  `
  CREATE TABLE audit_sources (source_key text COLLATE "C" PRIMARY KEY, seq bigint NOT NULL);
  CREATE INDEX audit_entries_kind ON audit_entries (kind, seq);
  CREATE TRIGGER audit_sources_append_only BEFORE UPDATE OR DELETE ON audit_sources FOR EACH ROW EXECUTE FUNCTION audit_append_only();
  `,
]

export interface PostgresAuditStoreOptions {
  readonly url: string
  readonly schema: string
  readonly poolSize?: number
  readonly applicationName?: string
}

interface EntryRow {
  seq: string | number
  time: string | number
  kind: string
  actor: string
  entry: string
  leaf_hash: Buffer
  subjects: string[] | null
}

const SELECT = `SELECT e.seq, e.time, e.kind, e.actor, e.entry, e.leaf_hash,
  (SELECT array_agg(s.profile_id ORDER BY s.profile_id) FROM audit_subjects AS s WHERE s.seq = e.seq) AS subjects FROM audit_entries AS e`

function toRecord(row: EntryRow): StoredAuditRecord {
  return {
    seq: num(row.seq), time: num(row.time), kind: row.kind, actor: row.actor, text: row.entry, leafHash: row.leaf_hash,
    subjects: row.subjects ?? [],
  }
}

/** Inserts entries (and their subjects) from seq `next` on; the caller holds the append lock. */
async function insertEntries(c: PostgresClient, next: number, records: readonly NewAuditRecord[]): Promise<void> {
  await run(c, 'insert audit entries',
    `INSERT INTO audit_entries (seq, time, kind, actor, entry, leaf_hash)
     SELECT $1::bigint + o - 1, t, k, a, e, decode(h, 'hex')
     FROM unnest($2::bigint[], $3::text[], $4::text[], $5::text[], $6::text[]) WITH ORDINALITY AS x(t, k, a, e, h, o)`,
    [next, records.map((r) => r.time), records.map((r) => r.kind), records.map((r) => r.actor), records.map((r) => r.text), records.map((r) => r.leafHash.toString('hex'))])
  const subjects = records.flatMap((r, i) => r.subjects.map((s) => [s, next + i] as const))
  if (subjects.length > 0) {
    await run(c, 'insert audit subjects',
      'INSERT INTO audit_subjects (profile_id, seq) SELECT * FROM unnest($1::text[], $2::bigint[]) ON CONFLICT DO NOTHING',
      [subjects.map((s) => s[0]), subjects.map((s) => s[1])])
  }
}

export async function openPostgresAuditStore(options: PostgresAuditStoreOptions): Promise<PostgresAuditStore> {
  const createPool = await loadPostgresDriver()
  return new PostgresAuditStore(createPool({
    url: options.url, schema: options.schema, poolSize: options.poolSize ?? 2, applicationName: options.applicationName ?? 'tessera-audit',
  }), options.schema)
}

export class PostgresAuditStore implements AuditStore {
  readonly #pool: PostgresPool
  readonly #schema: string

  constructor(pool: PostgresPool, schema: string) {
    this.#pool = pool
    this.#schema = schema
  }

  async migrate(): Promise<void> {
    await migrateSideStore(this.#pool, { schema: this.#schema, table: 'audit', label: 'audit', migrations: AUDIT_MIGRATIONS })
  }

  async append(records: readonly NewAuditRecord[]): Promise<number> {
    return inTransaction(this.#pool, 'append to the audit log', async (c) => {
      const next = await this.#lockAndSize(c)
      await insertEntries(c, next, records)
      return next
    })
  }

  async appendOnce(records: readonly KeyedAuditRecord[]): Promise<(number | null)[]> {
    return inTransaction(this.#pool, 'append to the audit log once', async (c) => {
      // Under the append lock, so the check and the insert are one step against every other writer.
      const next = await this.#lockAndSize(c)
      const { rows } = await run<{ source_key: string }>(c, 'read audit source keys',
        'SELECT source_key FROM audit_sources WHERE source_key = ANY ($1::text[])', [records.map((r) => r.key)])
      const seen = new Set(rows.map((r) => r.source_key))
      const fresh: KeyedAuditRecord[] = []
      const seqs = records.map((r) => {
        if (seen.has(r.key)) return null
        seen.add(r.key)
        fresh.push(r)
        return next + fresh.length - 1
      })
      if (fresh.length > 0) {
        await insertEntries(c, next, fresh.map((r) => r.record))
        await run(c, 'insert audit source keys',
          'INSERT INTO audit_sources (source_key, seq) SELECT k, $1::bigint + o - 1 FROM unnest($2::text[]) WITH ORDINALITY AS x(k, o)',
          [next, fresh.map((r) => r.key)])
      }
      return seqs
    })
  }

  /** Takes the append lock (until the transaction ends) and returns the seq of the next entry. */
  async #lockAndSize(c: PostgresClient): Promise<number> {
    await run(c, 'lock the audit log', 'SELECT pg_advisory_xact_lock(hashtextextended($1, 0))', [`tessera-audit-append:${this.#schema}`])
    const { rows } = await run<{ next: string }>(c, 'read the audit size', 'SELECT coalesce(max(seq) + 1, 0) AS next FROM audit_entries')
    return num(rows[0]!.next)
  }

  async count(): Promise<number> {
    const { rows } = await run<{ n: string }>(this.#pool, 'count audit entries', 'SELECT count(*) AS n FROM audit_entries')
    return num(rows[0]!.n)
  }

  async leafHashes(from: number): Promise<Buffer[]> {
    const { rows } = await run<{ leaf_hash: Buffer }>(this.#pool, 'read audit leaf hashes', 'SELECT leaf_hash FROM audit_entries WHERE seq >= $1 ORDER BY seq', [from])
    return rows.map((r) => r.leaf_hash)
  }

  async range(from: number, limit: number): Promise<StoredAuditRecord[]> {
    const { rows } = await run<EntryRow>(this.#pool, 'read audit entries', `${SELECT} WHERE e.seq >= $1 ORDER BY e.seq LIMIT $2`, [from, limit])
    return rows.map(toRecord)
  }

  async search(q: AuditQuery): Promise<StoredAuditRecord[]> {
    const where: string[] = []
    const params: unknown[] = []
    const add = (clause: (p: string) => string, value: unknown): void => {
      params.push(value)
      where.push(clause(`$${params.length}`))
    }
    if (q.profileId !== undefined) add((p) => `e.seq IN (SELECT seq FROM audit_subjects WHERE profile_id = ${p})`, q.profileId)
    if (q.actor !== undefined) add((p) => `e.actor = ${p}`, q.actor)
    if (q.kind !== undefined) add((p) => `e.kind = ${p}`, q.kind)
    if (q.since !== undefined) add((p) => `e.time >= ${p}`, q.since)
    if (q.until !== undefined) add((p) => `e.time <= ${p}`, q.until)
    if (q.afterSeq !== undefined) add((p) => `e.seq > ${p}`, q.afterSeq)
    params.push(q.limit)
    const sql = `${SELECT}${where.length > 0 ? ` WHERE ${where.join(' AND ')}` : ''} ORDER BY e.seq LIMIT $${params.length}`
    const { rows } = await run<EntryRow>(this.#pool, 'search the audit log', sql, params)
    return rows.map(toRecord)
  }

  async addCheckpoint(cp: StoredCheckpoint): Promise<boolean> {
    return inTransaction(this.#pool, 'store an audit checkpoint', async (c) => {
      // The append lock: checkpoints of concurrent writers are stored one at a time, so none lands behind a newer one.
      await run(c, 'lock the audit log', 'SELECT pg_advisory_xact_lock(hashtextextended($1, 0))', [`tessera-audit-append:${this.#schema}`])
      const { rowCount } = await run(c, 'store an audit checkpoint',
        `INSERT INTO audit_checkpoints (tree_size, root_hash, time, note) SELECT $1, $2, $3, $4
         WHERE NOT EXISTS (SELECT 1 FROM audit_checkpoints WHERE tree_size > $1 OR time > $3)`,
        [cp.size, cp.rootHash, cp.time, cp.note])
      return rowCount === 1
    })
  }

  async checkpoints(): Promise<StoredCheckpoint[]> {
    const { rows } = await run<{ tree_size: string; root_hash: Buffer; time: string; note: string }>(this.#pool, 'read audit checkpoints',
      'SELECT tree_size, root_hash, time, note FROM audit_checkpoints ORDER BY id')
    return rows.map((r) => ({ size: num(r.tree_size), rootHash: r.root_hash, time: num(r.time), note: r.note }))
  }

  async latestCheckpoint(): Promise<StoredCheckpoint | null> {
    const { rows } = await run<{ tree_size: string; root_hash: Buffer; time: string; note: string }>(this.#pool, 'read the latest audit checkpoint',
      'SELECT tree_size, root_hash, time, note FROM audit_checkpoints ORDER BY tree_size DESC, id DESC LIMIT 1')
    const r = rows[0]
    return r === undefined ? null : { size: num(r.tree_size), rootHash: r.root_hash, time: num(r.time), note: r.note }
  }

  async close(): Promise<void> {
    await this.#pool.end()
  }
}
