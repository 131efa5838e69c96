/**
 * @module Opens the PrivacyStore of the configured backend, for the composition root and the CLI: a SQLite file
 * `<dataDir>/privacy.db`, or `privacy_*` tables in PostgreSQL.
 */
import { join } from 'node:path'
import type { TesseraConfig } from '../config/config.js'
import { openPostgresPrivacyStore } from '../storage/postgres/privacy-store.js'
import { SqlitePrivacyStore } from '../storage/sqlite/privacy-store.js'
import type { PrivacyStore } from './privacy-store.js'
import { openPostgresRetentionStore } from '../storage/postgres/privacy-retention.js'
import { SqliteRetentionStore } from '../storage/sqlite/privacy-retention.js'
import { CLEAR_TRAITS, type RetentionStore, type TraitSealing } from './retention/retention-store.js'
import { openPostgresErasureStore } from '../storage/postgres/privacy-erasure.js'
import { SqliteErasureStore } from '../storage/sqlite/privacy-erasure.js'
import type { ErasureStore } from './dsar/erasure-store.js'
import { openPostgresVerificationStore } from '../storage/postgres/dsar-verification-store.js'
import { SqliteVerificationStore } from '../storage/sqlite/dsar-verification-store.js'
import type { VerificationStore } from './dsar/verification-store.js'
import type { Clock } from '../core/clock.js'
import { WebhookVerificationChannel, loadOrCreateWebhookSecret } from './dsar/webhook-channel.js'
import type { VerificationChannel } from './dsar/verification-channel.js'

export function privacyStorePath(dataDir: string): string {
  return join(dataDir, 'privacy.db')
}

/** Opens and migrates the privacy store. */
export async function openPrivacyStore(config: TesseraConfig, dataDir: string): Promise<PrivacyStore> {
  const store: PrivacyStore = config.store.kind === 'postgres'
    ? await openPostgresPrivacyStore({ url: config.store.url!, schema: config.store.schema, applicationName: 'tessera-privacy' })
    : new SqlitePrivacyStore({ path: privacyStorePath(dataDir) })
  try {
    await store.migrate()
  } catch (error) {
    await store.close()
    throw error
  }
  return store
}

/** Opens the retention side of the configured state store (the state must have been migrated). */
export async function openRetentionStore(config: TesseraConfig, statePath: string, sealing: TraitSealing = CLEAR_TRAITS): Promise<RetentionStore> {
  return config.store.kind === 'postgres'
    ? openPostgresRetentionStore({ url: config.store.url!, schema: config.store.schema }, sealing)
    : new SqliteRetentionStore(statePath, sealing)
}

/** Opens the erasure side of the configured state store (the state must have been migrated). */
export async function openErasureStore(config: TesseraConfig, statePath: string): Promise<ErasureStore> {
  return config.store.kind === 'postgres'
    ? openPostgresErasureStore({ url: config.store.url!, schema: config.store.schema })
    : new SqliteErasureStore(statePath)
}

/** Opens the requester-verification side of the privacy store (the privacy store must have been migrated). */
export async function openVerificationStore(config: TesseraConfig, dataDir: string): Promise<VerificationStore> {
  return config.store.kind === 'postgres'
    ? openPostgresVerificationStore({ url: config.store.url!, schema: config.store.schema })
    : new SqliteVerificationStore(privacyStorePath(dataDir))
}

/** The delivery channel for one-time codes: the webhook when `governance.dsar.verification.webhookUrl` is set, else none. */
export function verificationChannel(config: TesseraConfig, clock: Clock): VerificationChannel | null {
  const v = config.governance.dsar.verification
  if (v.webhookUrl === undefined) return null
  const secret = loadOrCreateWebhookSecret(v.webhookSecretFile ?? join(config.dataDir, 'dsar-webhook.key'))
  return new WebhookVerificationChannel({ url: v.webhookUrl, secret, timeoutMs: v.webhookTimeoutMs, now: () => clock.now() })
}
