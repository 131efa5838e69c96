import { dropSchema, freshSchemaName, requirePostgres } from '../../../test/support/services.js'
import { runPrivacyStoreContract, runProfileCountContract, runRetentionContract, runErasureContract } from '../../governance/privacy-store.contract.js'
import { openPostgresStateBackend } from './postgres-backend.js'
import { openPostgresPrivacyStore } from './privacy-store.js'
import { openPostgresRetentionStore } from './privacy-retention.js'
import { openPostgresErasureStore } from './privacy-erasure.js'

const url = await requirePostgres()

if (url) {
  runPrivacyStoreContract('postgres', async () => {
    const schema = freshSchemaName('privacy')
    const store = await openPostgresPrivacyStore({ url, schema, poolSize: 4, applicationName: 'tessera-test-privacy' })
    return { store, cleanup: async () => { await store.close(); await dropSchema(url, schema) } }
  })

  runProfileCountContract('postgres', async () => {
    const schema = freshSchemaName('count')
    const backend = await openPostgresStateBackend({ url, schema, poolSize: 2, applicationName: 'tessera-test-count' })
    const reader = backend.reader()
    return {
      backend,
      reader: () => reader,
      cleanup: async () => {
        await backend.close()
        await dropSchema(url, schema)
      },
    }
  })

  runRetentionContract('postgres', async () => {
    const schema = freshSchemaName('retention')
    const backend = await openPostgresStateBackend({ url, schema, poolSize: 2, applicationName: 'tessera-test-retention' })
    return {
      backend,
      store: (sealing) => openPostgresRetentionStore({ url, schema }, sealing),
      cleanup: async () => {
        await backend.close()
        await dropSchema(url, schema)
      },
    }
  })

  runErasureContract('postgres', async () => {
    const schema = freshSchemaName('erasure')
    const backend = await openPostgresStateBackend({ url, schema, poolSize: 2, applicationName: 'tessera-test-erasure' })
    return {
      backend,
      store: () => openPostgresErasureStore({ url, schema }),
      cleanup: async () => {
        await backend.close()
        await dropSchema(url, schema)
      },
    }
  })
}
