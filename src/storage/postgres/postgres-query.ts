/**
 * @module How the PostgreSQL adapter runs a statement and what its failures become. Infrastructure failures
 * (connection lost, server shutting down, serialization failure, deadlock, out of resources) become
 * `TesseraError('TESSERA_STORE')`, which the pipeline retries with backoff; a value PostgreSQL refuses
 * (SQLSTATE classes 22 "data exception" and 23 "integrity constraint", e.g. a `\u0000` inside a JSONB trait)
 * stays a plain `Error`, which the pipeline pins on the event and dead-letters instead of retrying forever.
 */
import { TesseraError } from '../../core/errors.js'
import type { PostgresClient, PostgresPool, PostgresQueryable, PostgresResult } from './postgres-pool.js'

/** SQLSTATEs after which running the same transaction again can succeed. */
export const RETRYABLE_STATES: ReadonlySet<string> = new Set(['40001', '40P01'])

/** The SQLSTATE of a PostgreSQL error, looking through `cause` chains; undefined for network errors. */
export function sqlState(error: unknown): string | undefined {
  for (let e: unknown = error, depth = 0; e !== undefined && e !== null && depth < 8; depth++) {
    const code = (e as { code?: unknown }).code
    if (typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code)) return code
    e = (e as { cause?: unknown }).cause
  }
  return undefined
}

/** True when the failure is about the data of the statement (bad value, constraint), not the database. */
export function isDataError(error: unknown): boolean {
  const state = sqlState(error)
  return state !== undefined && (state.startsWith('22') || state.startsWith('23'))
}

/** Wraps a `pg` failure: infrastructure → `TESSERA_STORE`, data errors → plain `Error`; both keep the cause. */
export function toStoreError(error: unknown, what: string): Error {
  if (error instanceof TesseraError) return error
  const message = error instanceof Error ? error.message : String(error)
  const state = sqlState(error)
  const suffix = state === undefined ? message : `${message} (SQLSTATE ${state})`
  if (isDataError(error)) return new Error(`PostgreSQL refused ${what}: ${suffix}`, { cause: error })
  return new TesseraError('TESSERA_STORE', `PostgreSQL failed to ${what}: ${suffix}`, { cause: error })
}

/** Runs one statement; any failure is translated by {@link toStoreError}. */
export async function run<R = Record<string, unknown>>(
  db: PostgresQueryable, what: string, text: string, values?: readonly unknown[],
): Promise<PostgresResult<R>> {
  try {
    return await db.query<R>(text, values)
  } catch (error) {
    throw toStoreError(error, what)
  }
}

/** `bigint` columns arrive as strings (they may exceed 2^53); Tessera's times and counts fit a double. */
export function num(value: unknown): number {
  return typeof value === 'number' ? value : Number(value)
}

/** Keeps the last entry per key, sorted by key, so that multi-row upserts lock rows in one global order. */
export function lastWinsSorted<T>(items: readonly T[], keyOf: (item: T) => string): T[] {
  const byKey = new Map<string, T>()
  for (const item of items) byKey.set(keyOf(item), item)
  return [...byKey.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, item]) => item)
}

/**
 * Folds an ordered list of "everything owned by `from` now belongs to `to`" steps into one mapping from each
 * original owner to its final owner, so that a single `UPDATE ... FROM unnest(src, dst)` has the same effect
 * as running the steps one after the other.
 */
export function composeMoves(moves: readonly { readonly from: string; readonly to: string }[]): { src: string[]; dst: string[] } {
  const owner = new Map<string, string>()
  for (const { from, to } of moves) {
    if (!owner.has(from)) owner.set(from, from)
    if (!owner.has(to)) owner.set(to, to)
    for (const [original, current] of owner) if (current === from) owner.set(original, to)
  }
  const src: string[] = []
  const dst: string[] = []
  for (const [original, current] of owner) {
    if (original === current) continue
    src.push(original)
    dst.push(current)
  }
  return { src, dst }
}

/**
 * Rolls back after `error` and returns what to throw: `error` itself, or, when the rollback fails too (the
 * connection is gone), a `TESSERA_STORE` error that carries both.
 */
export async function rollbackAfter(db: PostgresQueryable, error: unknown): Promise<unknown> {
  try {
    await db.query('ROLLBACK')
    return error
  } catch (rollbackError) {
    return new TesseraError('TESSERA_STORE', 'PostgreSQL transaction failed and its rollback failed too (connection lost?)', {
      cause: new AggregateError([error, rollbackError]),
    })
  }
}

/**
 * Runs `work` in one transaction on a pooled connection: BEGIN, COMMIT, or ROLLBACK on any failure (a connection
 * that died or whose rollback failed is discarded, not returned to the pool). `what` names the work in errors.
 */
export async function inTransaction<T>(pool: PostgresPool, what: string, work: (client: PostgresClient) => Promise<T>): Promise<T> {
  let client: PostgresClient
  try {
    client = await pool.connect()
  } catch (error) {
    throw toStoreError(error, `connect to ${what}`)
  }
  // A checked-out client emits `error` when its connection dies between statements (a terminated backend, a
  // restart); without a listener that would crash the process. The statement in flight, or the next, fails instead.
  let broken = false
  const onError = (): void => {
    broken = true
  }
  client.on('error', onError)
  try {
    await run(client, 'begin', 'BEGIN')
    const result = await work(client)
    await run(client, 'commit', 'COMMIT')
    return result
  } catch (error) {
    if (broken) throw toStoreError(error, `${what} (connection lost)`)
    const reported = await rollbackAfter(client, error instanceof Error ? error : new Error(String(error)))
    broken = true
    throw reported
  } finally {
    client.off('error', onError)
    client.release(broken)
  }
}

/** A side store of the PostgreSQL deployment (audit, consent, privacy, workload): its tables and migrations. */
export interface SideStoreMigrations {
  readonly schema: string
  /** The store's name in its migration table and lock (`<table>_schema_migrations`), e.g. `audit`. */
  readonly table: string
  /** The store's name in messages, e.g. `audit`. */
  readonly label: string
  readonly migrations: readonly string[]
}

/**
 * Creates or upgrades a side store's tables, in one transaction under an advisory lock of its own (processes
 * starting together migrate once), with its own migration table, so it never collides with the state's or another
 * side store's migrations. A schema newer than this Tessera is an error, never a downgrade.
 */
export async function migrateSideStore(pool: PostgresPool, m: SideStoreMigrations): Promise<void> {
  await inTransaction(pool, `migrate the ${m.label} store`, async (c) => {
    await run(c, `lock the ${m.label} migrations`, 'SELECT pg_advisory_xact_lock(hashtextextended($1, 0))', [`tessera-${m.table.replaceAll('_', '-')}-migrations:${m.schema}`])
    await run(c, 'create the schema', `CREATE SCHEMA IF NOT EXISTS ${m.schema}; SET LOCAL search_path TO ${m.schema}`)
    await run(c, `create the ${m.label} migrations table`,
      `CREATE TABLE IF NOT EXISTS ${m.table}_schema_migrations (version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())`)
    const { rows } = await run<{ v: number | null }>(c, `read the ${m.label} schema version`, `SELECT max(version) AS v FROM ${m.table}_schema_migrations`)
    const current = rows[0]?.v ?? 0
    if (current > m.migrations.length) {
      throw new TesseraError('TESSERA_STORE', `${m.label} tables in ${m.schema} are at version ${current}, newer than this Tessera (${m.migrations.length}); upgrade Tessera`)
    }
    for (let v = current; v < m.migrations.length; v++) {
      await run(c, `apply ${m.label} migration ${v + 1}`, m.migrations[v]!)
      await run(c, `record a ${m.label} migration`, `INSERT INTO ${m.table}_schema_migrations (version) VALUES ($1)`, [v + 1])
    }
  })
}
