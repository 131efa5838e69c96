/**
 * @module PostgreSQL adapter of the PrivacyStore port: `privacy_*` tables in Tessera's schema with their own
 * migration table (`privacy_schema_migrations`). The budget spend is one conditional upsert (row lock), so two
 * concurrent counts cannot both pass a limit.
 */
import { TesseraError } from '../../core/errors.js'
import type { BudgetResult, BudgetSpend, PrivacyStore } from '../../governance/privacy-store.js'
import { loadPostgresDriver, type PostgresClient, type PostgresPool } from './postgres-pool.js'
import { num, rollbackAfter, run, toStoreError } from './postgres-query.js'

export const PRIVACY_MIGRATIONS: readonly string[] = [
  `
  CREATE TABLE privacy_budget (
    principal text COLLATE "C" NOT NULL, period_start bigint NOT NULL, spent_micros bigint NOT NULL CHECK (spent_micros >= 0),
    PRIMARY KEY (principal, period_start)
  );
  `,
]

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

  async inTransaction<T>(what: string, work: (client: PostgresClient) => Promise<T>): Promise<T> {
    let client: PostgresClient
    try {
      client = await this.#pool.connect()
    } catch (error) {
      throw toStoreError(error, `connect to ${what}`)
    }
    try {
      await run(client, 'begin', 'BEGIN')
      const result = await work(client)
      await run(client, 'commit', 'COMMIT')
      client.release()
      return result
    } catch (error) {
      const reported = await rollbackAfter(client, error instanceof Error ? error : new Error(String(error)))
      client.release(true)
      throw reported
    }
  }

  async migrate(): Promise<void> {
    await this.inTransaction('migrate the privacy store', async (c) => {
      await run(c, 'lock the privacy migrations', 'SELECT pg_advisory_xact_lock(hashtextextended($1, 0))', [`tessera-privacy-migrations:${this.#schema}`])
      await run(c, 'create the schema', `CREATE SCHEMA IF NOT EXISTS ${this.#schema}; SET LOCAL search_path TO ${this.#schema}`)
      await run(c, 'create the privacy migrations table',
        'CREATE TABLE IF NOT EXISTS privacy_schema_migrations (version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())')
      const { rows } = await run<{ v: number | null }>(c, 'read the privacy schema version', 'SELECT max(version) AS v FROM privacy_schema_migrations')
      const current = rows[0]?.v ?? 0
      if (current > PRIVACY_MIGRATIONS.length) {
        throw new TesseraError('TESSERA_STORE', `privacy tables in ${this.#schema} are at version ${current}, newer than this Tessera (${PRIVACY_MIGRATIONS.length}); upgrade Tessera`)
      }
      for (let v = current; v < PRIVACY_MIGRATIONS.length; v++) {
        await run(c, `apply privacy migration ${v + 1}`, PRIVACY_MIGRATIONS[v]!)
        await run(c, 'record a privacy migration', 'INSERT INTO privacy_schema_migrations (version) VALUES ($1)', [v + 1])
      }
    })
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

  async close(): Promise<void> {
    await this.#pool.end()
  }
}
