/**
 * @module ErasureStore on PostgreSQL: a pool of its own; the whole erasure is one transaction. The id sets are
 * bound as text[] parameters, never spliced into SQL.
 */
import { ERASURE_TABLES, type ErasureResult, type ErasureStore } from '../../governance/dsar/erasure-store.js'
import { loadPostgresDriver, type PostgresPool } from './postgres-pool.js'
import { inTransaction, run } from './postgres-query.js'

export async function openPostgresErasureStore(options: { url: string; schema: string }): Promise<PostgresErasureStore> {
  const createPool = await loadPostgresDriver()
  return new PostgresErasureStore(createPool({ url: options.url, schema: options.schema, poolSize: 1, applicationName: 'tessera-erasure' }))
}

export class PostgresErasureStore implements ErasureStore {
  readonly #pool: PostgresPool

  constructor(pool: PostgresPool) {
    this.#pool = pool
  }

  async erase(profileId: string, values: readonly string[] = []): Promise<ErasureResult> {
    return inTransaction(this.#pool, 'erase a person', async (client) => {
      const { rows: m } = await run<{ id: string }>(client, 'find merged profiles',
        `WITH RECURSIVE members(id) AS (SELECT $1::text COLLATE "C" UNION SELECT p.id FROM profiles p JOIN members mm ON p.merged_into = mm.id)
         SELECT id FROM members`, [profileId])
      const members = m.map((r) => r.id)
      const { rows: ids } = await run<{ key: string; value: string }>(client, 'read identifiers', 'SELECT key, value FROM identifiers WHERE profile_id = ANY($1::text[])', [members])
      const sets = { M: members, K: ids.map((i) => i.key), V: [...new Set([...ids.map((i) => i.value), ...values])] }
      const deleted: Record<string, number> = {}
      for (const t of ERASURE_TABLES) {
        if (t.optional) {
          const { rows } = await run<{ r: string | null }>(client, 'check a table', 'SELECT to_regclass($1) AS r', [t.table])
          if (rows[0]?.r === null || rows[0]?.r === undefined) continue
        }
        const values: unknown[] = []
        const where = t.where.replace(/\bIN ([MKV])\b/g, (_, set: 'M' | 'K' | 'V') => {
          values.push(sets[set])
          return `= ANY($${values.length}::text[])`
        })
        const { rows } = await run<{ n: string }>(client, `erase from ${t.table}`, `WITH d AS (DELETE FROM ${t.table} WHERE ${where} RETURNING 1) SELECT count(*) AS n FROM d`, values)
        deleted[t.table] = Number(rows[0]!.n)
      }
      return { identifierKeys: ids.map((i) => i.key), profileIds: members, deleted }
    })
  }

  async close(): Promise<void> {
    await this.#pool.end()
  }
}
