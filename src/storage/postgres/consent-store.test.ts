import { adminQuery, dropSchema, freshSchemaName, requirePostgres } from '../../../test/support/services.js'
import { runConsentStoreContract } from '../../governance/consent/consent-store.contract.js'
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
