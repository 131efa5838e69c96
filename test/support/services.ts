/**
 * @module Finds the external services that integration tests need (PostgreSQL here; the Kafka tests mirror
 * it). A missing service skips the tests with a message saying how to start it, unless
 * `TESSERA_REQUIRE_SERVICES=1` (CI), where a missing service fails the run loudly.
 */
import { randomUUID } from 'node:crypto'
import { SCHEMA_NAME, loadPostgresDriver } from '../../src/storage/postgres/postgres-pool.js'

/** Where the tests look for PostgreSQL; override with `TESSERA_TEST_DATABASE_URL`. */
export const DEFAULT_TEST_DATABASE_URL = 'postgres://postgres@127.0.0.1:5432/test'

let probe: Promise<string | null> | undefined

/**
 * The connection URL of a reachable PostgreSQL, or null (after printing why) when there is none and services
 * are not required. Probed once per test file.
 */
export function requirePostgres(): Promise<string | null> {
  probe ??= (async () => {
    const url = process.env.TESSERA_TEST_DATABASE_URL ?? DEFAULT_TEST_DATABASE_URL
    const createPool = await loadPostgresDriver()
    const pool = createPool({ url, schema: 'public', poolSize: 1, applicationName: 'tessera-test-probe' })
    try {
      await pool.query('SELECT 1')
      return url
    } catch (error) {
      const why = `PostgreSQL is not reachable at ${url.replace(/:[^:@/]*@/, ':***@')} (${(error as Error).message})`
      if (process.env.TESSERA_REQUIRE_SERVICES === '1') throw new Error(`${why}; TESSERA_REQUIRE_SERVICES=1 requires it`, { cause: error })
      console.warn(`${why}: skipping the PostgreSQL tests. Start one (e.g. \`pg_ctlcluster 15 main start\`, or ` +
        '`docker run -p 5432:5432 -e POSTGRES_HOST_AUTH_METHOD=trust postgres:15`) or set TESSERA_TEST_DATABASE_URL.')
      return null
    } finally {
      await pool.end()
    }
  })()
  return probe
}

/** A fresh, unique schema name for one test (dropped by {@link dropSchema}). */
export function freshSchemaName(prefix = 't'): string {
  return `${prefix}_${randomUUID().replace(/-/g, '').slice(0, 16)}`
}

/** Drops a test schema and everything in it. */
export async function dropSchema(url: string, schema: string): Promise<void> {
  if (!SCHEMA_NAME.test(schema)) throw new Error(`not a schema name: ${schema}`)
  const createPool = await loadPostgresDriver()
  const pool = createPool({ url, schema: 'public', poolSize: 1, applicationName: 'tessera-test-cleanup' })
  try {
    await pool.query(`DROP SCHEMA IF EXISTS ${schema} CASCADE`)
  } finally {
    await pool.end()
  }
}

/** Runs one statement on its own short-lived connection (fault injection, assertions on raw tables). */
export async function adminQuery<R = Record<string, unknown>>(url: string, text: string, values?: readonly unknown[]): Promise<R[]> {
  const createPool = await loadPostgresDriver()
  const pool = createPool({ url, schema: 'public', poolSize: 1, applicationName: 'tessera-test-admin' })
  try {
    return (await pool.query<R>(text, values)).rows
  } finally {
    await pool.end()
  }
}
