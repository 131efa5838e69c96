/**
 * @module Builds the consent ledger for the composition root: the store that matches `store.kind` (SQLite file
 * `<dataDir>/consent.db`, or `consent_*` tables in PostgreSQL), the classifier, the keyed hash shared with
 * masked reads (`<dataDir>/masking.key`) and the audit log of governance.
 */
import { createHmac } from 'node:crypto'
import { join } from 'node:path'
import type { TesseraConfig } from '../../config/config.js'
import type { Clock } from '../../core/clock.js'
import { openPostgresConsentStore } from '../../storage/postgres/consent-store.js'
import { SqliteConsentStore } from '../../storage/sqlite/consent-store.js'
import type { AuditLog } from '../audit-log.js'
import { createClassifier } from '../classification.js'
import { createMasker, loadOrCreateMaskingKey } from '../masking.js'
import { ConsentLedger } from './consent-ledger.js'
import type { ConsentStore } from './consent-store.js'
import { PseudonymousConsentStore } from './pseudonymous-consent-store.js'
import { CLEAR_SCHEME, type IdentifierCodec } from '../../identity/identifier-codec.js'

export function consentStorePath(dataDir: string): string {
  return join(dataDir, 'consent.db')
}

export async function openConsentStore(config: TesseraConfig, dataDir: string): Promise<ConsentStore> {
  const store: ConsentStore = config.store.kind === 'postgres'
    ? await openPostgresConsentStore({ url: config.store.url!, schema: config.store.schema, applicationName: 'tessera-consent' })
    : new SqliteConsentStore({ path: consentStorePath(dataDir) })
  try {
    await store.migrate()
  } catch (error) {
    await store.close()
    throw error
  }
  return store
}

export interface OpenedConsent {
  readonly ledger: ConsentLedger
  close(): Promise<void>
}

/**
 * `identifiers`: the state's identifier codec; in a pseudonymous state the ledger's records are keyed by the same
 * pseudonyms as the identity graph (src/governance/consent/pseudonymous-consent-store.ts).
 */
export async function openConsent(config: TesseraConfig, dataDir: string, audit: AuditLog, clock: Clock, identifiers: IdentifierCodec): Promise<OpenedConsent> {
  const opened = await openConsentStore(config, dataDir)
  const store: ConsentStore = identifiers.scheme === CLEAR_SCHEME ? opened : new PseudonymousConsentStore(opened, identifiers)
  const key = loadOrCreateMaskingKey(join(dataDir, 'masking.key'))
  const mask = createMasker(key)
  const ledger = new ConsentLedger({
    store, config: config.governance.consent, classifier: createClassifier(config.governance.classification),
    hash: (value) => mask('hash', value),
    pseudonymize: (identifier) => {
      const at = identifier.indexOf(':')
      return `${identifier.slice(0, at)}:hmac:${createHmac('sha256', key).update(identifier).digest('base64url').slice(0, 22)}`
    },
    audit: (entry) => audit.record(entry),
    now: () => clock.now(),
  })
  return { ledger, close: () => store.close() }
}
