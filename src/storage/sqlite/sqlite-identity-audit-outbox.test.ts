import { join } from 'node:path'
import { tempDir } from '../../../test/support/factories.js'
import { runIdentityAuditRelayContract } from '../../identity/identity-audit-relay.contract.js'
import { SqliteAuditStore } from './audit-store.js'
import { SqliteStateBackend } from './sqlite-backend.js'
import { SqliteIdentityAuditOutbox } from './sqlite-identity-audit-outbox.js'

runIdentityAuditRelayContract('sqlite', async () => {
  const t = tempDir()
  const statePath = join(t.dir, 'state.db')
  const state = new SqliteStateBackend({ path: statePath, sync: 'normal' })
  await state.migrate()
  return {
    state,
    openOutbox: async () => new SqliteIdentityAuditOutbox(statePath),
    openAuditStore: async () => {
      const store = new SqliteAuditStore({ path: join(t.dir, 'audit.db') })
      await store.migrate()
      return store
    },
    cleanup: async () => {
      await state.close()
      t.cleanup()
    },
  }
})
