import { dropSchema, freshSchemaName, requirePostgres } from '../../../test/support/services.js'
import { runDataKeyStoreContract } from '../../governance/crypto/data-key-store.contract.js'
import { openPostgresDataKeyStore } from './data-key-store.js'

const url = await requirePostgres()

if (url) {
  runDataKeyStoreContract('postgres', async () => {
    const schema = freshSchemaName('keys')
    const open = (): ReturnType<typeof openPostgresDataKeyStore> => openPostgresDataKeyStore({ url, schema, applicationName: 'tessera-test-keys' })
    const store = await open()
    return {
      store,
      reopen: async () => {
        const other = await open()
        await other.migrate()
        return other
      },
      cleanup: async () => {
        await store.close()
        await dropSchema(url, schema)
      },
    }
  })
}
