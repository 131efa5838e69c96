/**
 * @module PostgreSQL adapter of the DataKeyStore port: the `tessera_data_keys` table in Tessera's schema, with its
 * own migration table (`data_key_schema_migrations`) so it never collides with the state store's migrations.
 *
 * A deleted (shredded) row is gone for every query at once; its bytes stay in the table's heap until VACUUM
 * reclaims the page, and in PostgreSQL's WAL archive and backups for as long as those are kept (docs/privacy.md).
 */
import { TesseraError } from '../../core/errors.js'
import type { DataKeyStore, StoredDataKey } from '../../governance/crypto/data-key-store.js'
import { loadPostgresDriver, type PostgresPool } from './postgres-pool.js'
import { inTransaction, migrateSideStore, num, run } from './postgres-query.js'

export const DATA_KEY_MIGRATIONS: readonly string[] = [
  `
  CREATE TABLE tessera_data_keys (
    ref text COLLATE "C" PRIMARY KEY, key_id text NOT NULL, master_key_id text NOT NULL, wrapped bytea NOT NULL, created_at bigint NOT NULL
  );
  CREATE INDEX tessera_data_keys_master ON tessera_data_keys (master_key_id, ref);
  `,
]

interface Row { ref: string; key_id: string; master_key_id: string; wrapped: Buffer; created_at: string | number }

function toKey(r: Row): StoredDataKey {
  return { ref: r.ref, keyId: r.key_id, masterKeyId: r.master_key_id, wrapped: r.wrapped, createdAt: num(r.created_at) }
}

const COLUMNS = 'ref, key_id, master_key_id, wrapped, created_at'

export interface PostgresDataKeyStoreOptions {
  readonly url: string
  readonly schema: string
  readonly applicationName?: string
}

export async function openPostgresDataKeyStore(options: PostgresDataKeyStoreOptions): Promise<PostgresDataKeyStore> {
  const createPool = await loadPostgresDriver()
  return new PostgresDataKeyStore(createPool({ url: options.url, schema: options.schema, poolSize: 2, applicationName: options.applicationName ?? 'tessera-keys' }), options.schema)
}

export class PostgresDataKeyStore implements DataKeyStore {
  readonly #pool: PostgresPool
  readonly #schema: string

  constructor(pool: PostgresPool, schema: string) {
    this.#pool = pool
    this.#schema = schema
  }


  async migrate(): Promise<void> {
    await migrateSideStore(this.#pool, { schema: this.#schema, table: 'data_key', label: 'key store', migrations: DATA_KEY_MIGRATIONS })
  }

  async get(refs: readonly string[]): Promise<StoredDataKey[]> {
    if (refs.length === 0) return []
    const { rows } = await run<Row>(this.#pool, 'read data keys', `SELECT ${COLUMNS} FROM tessera_data_keys WHERE ref = ANY($1::text[])`, [refs])
    return rows.map(toKey)
  }

  async insertIfAbsent(keys: readonly StoredDataKey[]): Promise<StoredDataKey[]> {
    if (keys.length === 0) return []
    const byRef = await inTransaction(this.#pool, 'store data keys', async (c) => {
      await run(c, 'store data keys',
        `INSERT INTO tessera_data_keys (${COLUMNS})
         SELECT r, k, m, decode(w, 'hex'), t FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::bigint[]) AS x(r, k, m, w, t)
         ON CONFLICT (ref) DO NOTHING`,
        [keys.map((k) => k.ref), keys.map((k) => k.keyId), keys.map((k) => k.masterKeyId), keys.map((k) => k.wrapped.toString('hex')), keys.map((k) => k.createdAt)])
      const { rows } = await run<Row>(c, 'read data keys', `SELECT ${COLUMNS} FROM tessera_data_keys WHERE ref = ANY($1::text[])`, [keys.map((k) => k.ref)])
      return new Map(rows.map((r) => [r.ref, toKey(r)]))
    })
    return keys.map((k) => {
      const stored = byRef.get(k.ref)
      if (stored === undefined) throw new TesseraError('TESSERA_STORE', 'a data key was deleted while it was being created; retry')
      return stored
    })
  }

  async delete(refs: readonly string[]): Promise<number> {
    if (refs.length === 0) return 0
    const { rowCount } = await run(this.#pool, 'delete data keys', 'DELETE FROM tessera_data_keys WHERE ref = ANY($1::text[])', [refs])
    return rowCount ?? 0
  }

  async notWrappedBy(masterKeyId: string, afterRef: string, limit: number): Promise<StoredDataKey[]> {
    const { rows } = await run<Row>(this.#pool, 'list data keys to re-wrap',
      `SELECT ${COLUMNS} FROM tessera_data_keys WHERE master_key_id <> $1 AND ref > $2 ORDER BY ref LIMIT $3`, [masterKeyId, afterRef, limit])
    return rows.map(toKey)
  }

  async rewrap(ref: string, keyId: string, fromMasterKeyId: string, to: { readonly masterKeyId: string; readonly wrapped: Buffer }): Promise<boolean> {
    const { rowCount } = await run(this.#pool, 're-wrap a data key',
      'UPDATE tessera_data_keys SET master_key_id = $1, wrapped = $2 WHERE ref = $3 AND key_id = $4 AND master_key_id = $5',
      [to.masterKeyId, to.wrapped, ref, keyId, fromMasterKeyId])
    return rowCount === 1
  }

  async countByMasterKey(): Promise<Record<string, number>> {
    const { rows } = await run<{ id: string; n: string }>(this.#pool, 'count data keys', 'SELECT master_key_id AS id, count(*) AS n FROM tessera_data_keys GROUP BY master_key_id')
    return Object.fromEntries(rows.map((r) => [r.id, num(r.n)]))
  }

  async countDataKeys(): Promise<number> {
    const { rows } = await run<{ n: string }>(this.#pool, 'count data keys', "SELECT count(*) AS n FROM tessera_data_keys WHERE ref NOT LIKE '~%'")
    return num(rows[0]!.n)
  }

  async close(): Promise<void> {
    await this.#pool.end()
  }
}
