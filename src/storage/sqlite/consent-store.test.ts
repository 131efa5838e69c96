import { sqliteConsentFixture } from '../../../test/support/sqlite-consent-fixture.js'
import { runConsentStoreContract } from '../../governance/consent/consent-store.contract.js'

runConsentStoreContract('sqlite', async () => sqliteConsentFixture())
