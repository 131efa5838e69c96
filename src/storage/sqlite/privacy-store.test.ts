import { join } from 'node:path'
import { tempDir } from '../../../test/support/factories.js'
import { runPrivacyStoreContract, runProfileCountContract, runRetentionContract, runErasureContract } from '../../governance/privacy-store.contract.js'
import { SqliteStateBackend, openSqliteProfileReader } from './sqlite-backend.js'
import { SqlitePrivacyStore } from './privacy-store.js'
import { SqliteRetentionStore } from './privacy-retention.js'
import { SqliteErasureStore } from './privacy-erasure.js'

runPrivacyStoreContract('sqlite', async () => {
  const t = tempDir()
  const store = new SqlitePrivacyStore({ path: join(t.dir, 'privacy.db') })
  return { store, cleanup: async () => { await store.close(); t.cleanup() } }
})

runProfileCountContract('sqlite', async () => {
  const t = tempDir()
  const path = join(t.dir, 'state.db')
  const backend = new SqliteStateBackend({ path, sync: 'normal' })
  let reader: ReturnType<typeof openSqliteProfileReader> | undefined
  return {
    backend,
    reader: () => (reader ??= openSqliteProfileReader(path)),
    cleanup: async () => {
      await reader?.close()
      await backend.close()
      t.cleanup()
    },
  }
})

runRetentionContract('sqlite', async () => {
  const t = tempDir()
  const path = join(t.dir, 'state.db')
  const backend = new SqliteStateBackend({ path, sync: 'normal' })
  return {
    backend,
    store: async (sealing) => new SqliteRetentionStore(path, sealing),
    cleanup: async () => {
      await backend.close()
      t.cleanup()
    },
  }
})

runErasureContract('sqlite', async () => {
  const t = tempDir()
  const path = join(t.dir, 'state.db')
  const backend = new SqliteStateBackend({ path, sync: 'normal' })
  return {
    backend,
    store: async () => new SqliteErasureStore(path),
    cleanup: async () => {
      await backend.close()
      t.cleanup()
    },
  }
})
