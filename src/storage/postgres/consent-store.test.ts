import pg from 'pg'
import { describe, expect, it } from 'vitest'
import { adminQuery, dropSchema, freshSchemaName, requirePostgres } from '../../../test/support/services.js'
import { record, runConsentStoreContract } from '../../governance/consent/consent-store.contract.js'
import { openPostgresConsentStore } from './consent-store.js'

const url = await requirePostgres()

if (url) {
  runConsentStoreContract('postgres', async () => {
    const schema = freshSchemaName('consent')
    const open = (): ReturnType<typeof openPostgresConsentStore> => openPostgresConsentStore({ url, schema, applicationName: 'tessera-test-consent' })
    const store = await open()
    const succeeds = async (sql: string): Promise<boolean> => {
      try {
        await adminQuery(url, sql)
        return true
      } catch {
        return false
      }
    }
    return {
      store,
      reopen: open,
      tryRewrite: async () => ({
        update: await succeeds(`UPDATE ${schema}.consent_records SET state = 'granted'`),
        remove: await succeeds(`DELETE FROM ${schema}.consent_records`),
      }),
      cleanup: async () => {
        await store.close()
        await dropSchema(url, schema)
      },
    }
  })
}

if (url) {
  describe('PostgresConsentStore.changes: transactions that commit out of seq order', () => {
    it('names a record whose transaction took a lower seq but committed after a higher one was read', async () => {
      const schema = freshSchemaName('consent')
      const store = await openPostgresConsentStore({ url, schema, applicationName: 'tessera-test-consent' })
      const slow = new pg.Client({ connectionString: url })
      await slow.connect()
      try {
        await store.migrate()
        const start = await store.changes(null, 100)
        // The slow transaction takes its seq first and stays open while a later append commits.
        await slow.query('BEGIN')
        await slow.query(`INSERT INTO ${schema}.consent_records (identifier, purpose, state, source, legal_basis, jurisdiction, time, evidence)
          VALUES ('user_id:slow', 'analytics', 'denied', 'api', 'consent', 'EU', 1, '{}')`)
        const [fastSeq] = await store.append([record('user_id:fast', 'analytics', 'denied', 2)])
        const first = await store.changes(start.next, 100)
        expect(first.identifiers).toEqual(['user_id:fast'])
        await slow.query('COMMIT')
        const slowSeq = Number((await slow.query(`SELECT seq FROM ${schema}.consent_records WHERE identifier = 'user_id:slow'`)).rows[0].seq)
        expect(slowSeq).toBeLessThan(fastSeq!) // a seq cursor past fastSeq would never see it
        const second = await store.changes(first.next, 100)
        expect(second.identifiers).toContain('user_id:slow')
        // (A later pass may name both again while any transaction of the server older than theirs is open: the
        // horizon is the server's, and other tests share it.)
      } finally {
        await slow.end()
        await store.close()
        await dropSchema(url, schema)
      }
    })
  })
}
