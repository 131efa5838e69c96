import { dropSchema, freshSchemaName, requirePostgres } from '../../../test/support/services.js'
import { runVerificationStoreContract } from '../../governance/dsar/verification-store.contract.js'
import { openPostgresVerificationStore } from './dsar-verification-store.js'
import { openPostgresPrivacyStore } from './privacy-store.js'

const url = await requirePostgres()

if (url) {
  runVerificationStoreContract('postgres', async () => {
    const schema = freshSchemaName('verify')
    const privacy = await openPostgresPrivacyStore({ url, schema, poolSize: 2, applicationName: 'tessera-test-verify' })
    return {
      privacy,
      store: () => openPostgresVerificationStore({ url, schema }),
      cleanup: async () => {
        await privacy.close()
        await dropSchema(url, schema)
      },
    }
  })
}
