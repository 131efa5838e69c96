/** @module Test helper: a keyring on a temporary SQLite key store, for sealing any EventLog adapter in tests. */
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Keyring } from '../../governance/crypto/keyring.js'
import { LocalKeyFile } from '../../governance/crypto/local-key-file.js'
import { SqliteDataKeyStore } from '../../storage/sqlite/data-key-store.js'

export interface TempKeyring {
  readonly keyring: Keyring
  readonly dir: string
  /** Another process's keyring over the same store and master key. */
  reopen(cacheTtlMs?: number): Promise<Keyring>
  cleanup(): Promise<void>
}

export async function tempKeyring(cacheTtlMs = 60_000): Promise<TempKeyring> {
  const dir = mkdtempSync(join(tmpdir(), 'tessera-keyring-'))
  const stores: SqliteDataKeyStore[] = []
  const open = async (ttl: number): Promise<Keyring> => {
    const store = new SqliteDataKeyStore(join(dir, 'keys.db'))
    stores.push(store)
    await store.migrate()
    return Keyring.open({ kms: LocalKeyFile.load({ keyFile: join(dir, 'master.key'), env: {}, create: true }), store, cacheTtlMs: ttl })
  }
  const keyring = await open(cacheTtlMs)
  return {
    keyring, dir,
    reopen: (ttl = cacheTtlMs) => open(ttl),
    cleanup: async () => {
      for (const s of stores) await s.close()
      rmSync(dir, { recursive: true, force: true })
    },
  }
}
