import { join } from 'node:path'
import Database from 'better-sqlite3'
import { tempDir } from '../../../test/support/factories.js'
import { runConsentStoreContract } from '../../governance/consent/consent-store.contract.js'
import { SqliteConsentStore } from './consent-store.js'

runConsentStoreContract('sqlite', async () => {
  const t = tempDir()
  const path = join(t.dir, 'consent.db')
  const store = new SqliteConsentStore({ path })
  const refused = (sql: string): boolean => {
    const db = new Database(path)
    try {
      db.exec(sql)
      return true
    } catch {
      return false
    } finally {
      db.close()
    }
  }
  return {
    store,
    reopen: async () => new SqliteConsentStore({ path }),
    tryRewrite: async () => ({ update: refused("UPDATE consent_records SET state = 'granted'"), remove: refused('DELETE FROM consent_records') }),
    cleanup: async () => {
      await store.close()
      t.cleanup()
    },
  }
})
