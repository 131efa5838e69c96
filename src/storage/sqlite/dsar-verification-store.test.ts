import { join } from 'node:path'
import { tempDir } from '../../../test/support/factories.js'
import { runVerificationStoreContract } from '../../governance/dsar/verification-store.contract.js'
import { SqliteVerificationStore } from './dsar-verification-store.js'
import { SqlitePrivacyStore } from './privacy-store.js'

runVerificationStoreContract('sqlite', async () => {
  const t = tempDir()
  const path = join(t.dir, 'privacy.db')
  const privacy = new SqlitePrivacyStore({ path })
  return {
    privacy,
    store: async () => new SqliteVerificationStore(path),
    cleanup: async () => {
      await privacy.close()
      t.cleanup()
    },
  }
})
