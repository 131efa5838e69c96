/**
 * @module Opens the keyring of a deployment from its config: the data key store of `store.kind` (SQLite
 * `<dataDir>/keys.db`, or `tessera_data_keys` in PostgreSQL) and the master key (LocalKeyFile). Fails closed: a
 * missing master key file is only created when the store holds no key at all.
 */
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import type { TesseraConfig } from '../../config/config.js'
import { ThreadedSqliteDataKeyStore } from '../../storage/sqlite/data-key-store-thread.js'
import { openPostgresDataKeyStore } from '../../storage/postgres/data-key-store.js'
import type { DataKeyStore } from './data-key-store.js'
import { Keyring } from './keyring.js'
import type { KeyManagementService } from './key-management.js'
import { LocalKeyFile } from './local-key-file.js'
import { Pkcs11Kms } from './pkcs11-kms.js'

export function masterKeyPath(config: TesseraConfig, dataDir: string): string {
  return config.governance.encryption.keyFile ?? join(dataDir, 'master.key')
}

export function dataKeyStorePath(dataDir: string): string {
  return join(dataDir, 'keys.db')
}

/**
 * Opens and migrates the data key store of the configured backend. The SQLite store runs on a thread of its own
 * (data-key-store-thread.ts), so that its fsynced commits do not stop the caller's event loop.
 */
export async function openDataKeyStore(config: TesseraConfig, dataDir: string): Promise<DataKeyStore> {
  const store: DataKeyStore = config.store.kind === 'postgres'
    ? await openPostgresDataKeyStore({ url: config.store.url!, schema: config.store.schema })
    : await ThreadedSqliteDataKeyStore.open(dataKeyStorePath(dataDir))
  try {
    await store.migrate()
  } catch (error) {
    await store.close()
    throw error
  }
  return store
}

export interface OpenedKeyring {
  readonly keyring: Keyring
  readonly kms: KeyManagementService
  readonly store: DataKeyStore
  close(): Promise<void>
}

/** A master key service and how to let go of it (the HSM's session; nothing for a key file). */
export interface OpenedKms {
  readonly kms: KeyManagementService
  close(): Promise<void>
}

/**
 * The configured master keys: an HSM through PKCS#11 (`governance.encryption.pkcs11`), else the local key file.
 * `create`: may a missing key file be made (only over an empty keyring)? An HSM's keys are never made here.
 */
export async function openMasterKeys(config: TesseraConfig, dataDir: string, env: Readonly<Record<string, string | undefined>>, create: boolean): Promise<OpenedKms> {
  const pkcs11 = config.governance.encryption.pkcs11
  if (pkcs11 !== undefined) {
    const kms = await Pkcs11Kms.open(pkcs11, env)
    return { kms, close: () => kms.close() }
  }
  return { kms: LocalKeyFile.load({ keyFile: masterKeyPath(config, dataDir), env, create }), close: () => Promise.resolve() }
}

/**
 * The keyring when it holds keys already, else null without creating anything (encryption off: sealed records of
 * an earlier run still open, and nothing new is made). The SQLite store is not even created when its file is absent.
 */
export async function openExistingKeyring(config: TesseraConfig, dataDir: string, env: Readonly<Record<string, string | undefined>> = process.env): Promise<OpenedKeyring | null> {
  if (config.store.kind !== 'postgres' && !existsSync(dataKeyStorePath(dataDir))) return null
  const store = await openDataKeyStore(config, dataDir)
  const empty = Object.keys(await store.countByMasterKey()).length === 0
  await store.close()
  return empty ? null : openKeyring(config, dataDir, env)
}

export async function openKeyring(config: TesseraConfig, dataDir: string, env: Readonly<Record<string, string | undefined>> = process.env): Promise<OpenedKeyring> {
  const store = await openDataKeyStore(config, dataDir)
  let master: OpenedKms | undefined
  try {
    const empty = Object.keys(await store.countByMasterKey()).length === 0
    const opened = master = await openMasterKeys(config, dataDir, env, empty)
    const keyring = await Keyring.open({ kms: opened.kms, store, cacheTtlMs: config.governance.encryption.cacheTtlSeconds * 1000 })
    const close = async (): Promise<void> => {
      await store.close()
      await opened.close()
    }
    return { keyring, kms: opened.kms, store, close }
  } catch (error) {
    await master?.close()
    await store.close()
    throw error
  }
}

/** The keyring this configuration uses: always when encryption is on; when off, only one that already holds keys. */
export function openConfiguredKeyring(config: TesseraConfig, dataDir: string, env: Readonly<Record<string, string | undefined>> = process.env): Promise<OpenedKeyring | null> {
  return config.governance.encryption.enabled ? openKeyring(config, dataDir, env) : openExistingKeyring(config, dataDir, env)
}
