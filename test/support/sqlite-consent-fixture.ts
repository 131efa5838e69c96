/** The ConsentStore contract's fixture over the SQLite adapter, plain or through a decorator (the pseudonymous store). */
import { join } from 'node:path'
import Database from 'better-sqlite3'
import type { ConsentStoreFixture } from '../../src/governance/consent/consent-store.contract.js'
import type { ConsentStore } from '../../src/governance/consent/consent-store.js'
import { SqliteConsentStore } from '../../src/storage/sqlite/consent-store.js'
import { tempDir } from './factories.js'

export interface SqliteConsentFixtureOptions {
  /** Wraps each opened store (default: none). Gets the fixture's directory for what the decorator needs (keys). */
  readonly decorate?: (store: ConsentStore) => ConsentStore
  /** Runs after the store is closed, before the directory is removed. */
  readonly cleanup?: () => Promise<void>
  /** The directory (default: a new temporary one, removed at cleanup). */
  readonly dir?: { readonly dir: string; readonly cleanup: () => void }
}

export function sqliteConsentFixture(options: SqliteConsentFixtureOptions = {}): ConsentStoreFixture {
  const t = options.dir ?? tempDir()
  const path = join(t.dir, 'consent.db')
  const decorate = options.decorate ?? ((s: ConsentStore) => s)
  const store = decorate(new SqliteConsentStore({ path }))
  // Runs the statement on a connection of its own, as a tamperer would; true when SQLite let it through.
  const succeeds = (sql: string): boolean => {
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
    reopen: async () => decorate(new SqliteConsentStore({ path })),
    tryRewrite: async () => ({ update: succeeds("UPDATE consent_records SET state = 'granted'"), remove: succeeds('DELETE FROM consent_records') }),
    cleanup: async () => {
      await store.close()
      await options.cleanup?.()
      t.cleanup()
    },
  }
}
