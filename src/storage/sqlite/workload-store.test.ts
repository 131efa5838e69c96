import { join } from 'node:path'
import { tempDir } from '../../../test/support/factories.js'
import { runWorkloadStoreContract } from '../../workload/workload-store.contract.js'
import { SqliteWorkloadStore } from './workload-store.js'

runWorkloadStoreContract('sqlite', async () => {
  const t = tempDir()
  const store = new SqliteWorkloadStore({ path: join(t.dir, 'workload.db') })
  return { store, cleanup: async () => { await store.close(); t.cleanup() } }
})
