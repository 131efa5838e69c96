import { dropSchema, freshSchemaName, requirePostgres } from '../../../test/support/services.js'
import { runWorkloadStoreContract } from '../../workload/workload-store.contract.js'
import { openPostgresWorkloadStore } from './workload-store.js'

const url = await requirePostgres()

if (url) {
  runWorkloadStoreContract('postgres', async () => {
    const schema = freshSchemaName('workload')
    const store = await openPostgresWorkloadStore({ url, schema, poolSize: 2, applicationName: 'tessera-test-workload' })
    return { store, cleanup: async () => { await store.close(); await dropSchema(url, schema) } }
  })
}
