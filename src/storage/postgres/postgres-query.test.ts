import { randomUUID } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { adminQuery, dropSchema, freshSchemaName, requirePostgres } from '../../../test/support/services.js'
import { loadPostgresDriver } from './postgres-pool.js'
import { inTransaction, run } from './postgres-query.js'

const url = await requirePostgres()

describe.skipIf(!url)('inTransaction on PostgreSQL', () => {
  it('fails the work as TESSERA_STORE, not the process, when its connection is terminated mid-transaction', async () => {
    const applicationName = `tessera-test-tx-${randomUUID().slice(0, 8)}`
    const schema = freshSchemaName('tx')
    const pool = (await loadPostgresDriver())({ url: url!, schema, poolSize: 2, applicationName })
    const uncaught: unknown[] = []
    const onUncaught = (error: unknown): void => void uncaught.push(error)
    process.on('uncaughtException', onUncaught)
    try {
      const failed = inTransaction(pool, 'test work', async (client) => {
        await run(client, 'create', 'CREATE TEMP TABLE t (x int)')
        // Another session ends this one between two statements, as an operator or a failover does.
        await adminQuery(url!, 'SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1', [applicationName])
        await new Promise((r) => setTimeout(r, 200))
        await run(client, 'insert', 'INSERT INTO t VALUES (1)')
      })
      await expect(failed).rejects.toMatchObject({ code: 'TESSERA_STORE' })
      // The broken connection was discarded: the pool serves the next transaction.
      expect(await inTransaction(pool, 'test work', async (client) => (await run<{ one: number }>(client, 'select', 'SELECT 1 AS one')).rows[0]?.one)).toBe(1)
      expect(uncaught).toEqual([])
    } finally {
      process.off('uncaughtException', onUncaught)
      await pool.end()
      await dropSchema(url!, schema)
    }
  })
})
