/**
 * @module PostgreSQL adapter of the IdentityAuditOutbox port: the `identity_audit_outbox` table (state migration 5)
 * on a small pool of its own. Several pipeline workers share one state, and each runs a relay: a drain takes the
 * relay lease, a transaction-scoped `pg_try_advisory_xact_lock` keyed by the schema, and skips its turn when another
 * process holds it. The rows are read and removed in that transaction, with the relay's audit append in between, so
 * the lease lasts exactly as long as one drain and dies with a crashed process's connection. Rows of transactions
 * that commit later (out of seq order) are simply read by a later drain: nothing here depends on seq order.
 */
import { TesseraError } from '../../core/errors.js'
import { fromOutboxColumns, type IdentityAuditOutbox, type IdentityAuditRow, type OutboxColumns } from '../../identity/identity-audit-outbox.js'
import { loadPostgresDriver, type PostgresClient, type PostgresPool } from './postgres-pool.js'
import { num, rollbackAfter, run, toStoreError } from './postgres-query.js'

export interface PostgresIdentityAuditOutboxOptions {
  readonly url: string
  readonly schema: string
  readonly applicationName?: string
}

export async function openPostgresIdentityAuditOutbox(options: PostgresIdentityAuditOutboxOptions): Promise<PostgresIdentityAuditOutbox> {
  const createPool = await loadPostgresDriver()
  return new PostgresIdentityAuditOutbox(createPool({
    url: options.url, schema: options.schema, poolSize: 1, applicationName: options.applicationName ?? 'tessera-identity-audit',
  }), options.schema)
}

export class PostgresIdentityAuditOutbox implements IdentityAuditOutbox {
  readonly #pool: PostgresPool
  readonly #lease: string

  constructor(pool: PostgresPool, schema: string) {
    this.#pool = pool
    this.#lease = `tessera-identity-audit-relay:${schema}`
  }

  async drain(limit: number, work: (rows: readonly IdentityAuditRow[]) => Promise<void>): Promise<number | null> {
    let client: PostgresClient
    try {
      client = await this.#pool.connect()
    } catch (error) {
      throw toStoreError(error, 'connect for the identity audit relay')
    }
    let broken = false
    const onError = (): void => {
      broken = true
    }
    client.on('error', onError)
    try {
      await run(client, 'begin an identity audit drain', 'BEGIN')
      const { rows: lease } = await run<{ ok: boolean }>(client, 'take the identity audit relay lease',
        'SELECT pg_try_advisory_xact_lock(hashtextextended($1, 0)) AS ok', [this.#lease])
      if (lease[0]?.ok !== true) {
        await run(client, 'end an identity audit drain', 'ROLLBACK')
        return null
      }
      const { rows } = await run<OutboxColumns>(client, 'read the identity audit outbox',
        'SELECT * FROM identity_audit_outbox ORDER BY seq LIMIT $1', [limit])
      const queued = rows.map((r) => fromOutboxColumns(r, num))
      if (queued.length > 0) {
        await work(queued)
        await run(client, 'remove relayed rows from the identity audit outbox',
          'DELETE FROM identity_audit_outbox WHERE seq = ANY ($1::bigint[])', [queued.map((r) => r.seq)])
      }
      await run(client, 'commit an identity audit drain', 'COMMIT')
      return queued.length
    } catch (error) {
      if (broken) throw toStoreError(error, 'drain the identity audit outbox (connection lost)')
      const thrown = await rollbackAfter(client, error)
      if (thrown !== error) broken = true
      throw thrown instanceof TesseraError || thrown instanceof Error ? thrown : new Error(String(thrown))
    } finally {
      client.off('error', onError)
      client.release(broken)
    }
  }

  async pending(): Promise<number> {
    const { rows } = await run<{ n: string }>(this.#pool, 'count the identity audit outbox', 'SELECT count(*) AS n FROM identity_audit_outbox')
    return num(rows[0]!.n)
  }

  async close(): Promise<void> {
    await this.#pool.end()
  }
}
