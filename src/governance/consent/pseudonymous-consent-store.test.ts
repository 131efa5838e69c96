import { join } from 'node:path'
import Database from 'better-sqlite3'
import { describe, expect, it } from 'vitest'
import { tempDir } from '../../../test/support/factories.js'
import { sqliteConsentFixture } from '../../../test/support/sqlite-consent-fixture.js'
import { SqliteConsentStore } from '../../storage/sqlite/consent-store.js'
import { SqliteDataKeyStore } from '../../storage/sqlite/data-key-store.js'
import { Keyring } from '../crypto/keyring.js'
import { LocalKeyFile } from '../crypto/local-key-file.js'
import { PseudonymousIdentifiers } from '../../identity/identifier-codec.js'
import { record, runConsentStoreContract } from './consent-store.contract.js'
import { PseudonymousConsentStore } from './pseudonymous-consent-store.js'

async function open(dir: string): Promise<{ codec: PseudonymousIdentifiers; keys: SqliteDataKeyStore }> {
  const keys = new SqliteDataKeyStore(join(dir, 'keys.db'))
  await keys.migrate()
  const keyring = await Keyring.open({ kms: LocalKeyFile.load({ keyFile: join(dir, 'master.key'), env: {}, create: true }), store: keys, cacheTtlMs: 1000 })
  return { codec: new PseudonymousIdentifiers(keyring), keys }
}

// The decorator passes the ConsentStore contract over the SQLite adapter: the ledger sees no difference.
runConsentStoreContract('pseudonymous over sqlite', async () => {
  const dir = tempDir()
  const { codec, keys } = await open(dir.dir)
  return sqliteConsentFixture({ dir, decorate: (store) => new PseudonymousConsentStore(store, codec), cleanup: () => keys.close() })
})

describe('PseudonymousConsentStore', () => {
  it('stores no clear identifier, and still applies a refusal recorded while the keys were clear', async () => {
    const t = tempDir()
    const path = join(t.dir, 'consent.db')
    const { codec, keys } = await open(t.dir)
    const clear = new SqliteConsentStore({ path })
    await clear.migrate()
    try {
      // Written before the state was pseudonymised: a clear key.
      await clear.append([record('email:old@example.com', 'advertising', 'denied', 1)])
      const store = new PseudonymousConsentStore(clear, codec)
      await store.append([record('email:ann@example.com', 'analytics', 'granted', 2), record('email:old@example.com', 'analytics', 'granted', 3)])
      const db = new Database(path, { readonly: true })
      const ids = (db.prepare('SELECT identifier FROM consent_records ORDER BY seq').all() as { identifier: string }[]).map((r) => r.identifier)
      db.close()
      expect(ids[0]).toBe('email:old@example.com')
      expect(ids.slice(1)).toEqual([codec.storedKey('email', 'ann@example.com'), codec.storedKey('email', 'old@example.com')])
      const latest = await store.latest(['email:old@example.com'])
      expect(latest.map((r) => `${r.identifier}/${r.purpose}/${r.state}`).sort()).toEqual(['email:old@example.com/advertising/denied', 'email:old@example.com/analytics/granted'])
      expect((await store.history('email:old@example.com', { limit: 10 })).map((r) => r.seq)).toEqual([1, 3])
    } finally {
      await clear.close()
      await keys.close()
      t.cleanup()
    }
  })
})
