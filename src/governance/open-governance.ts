/**
 * @module Builds the governance parts from the config, for the composition root: the classifier, the
 * policy engine (shipped + configured policies), the masking key, the access control, and the audit log on
 * the store that matches `store.kind` (SQLite file `<dataDir>/audit.db`, or `audit_*` tables in PostgreSQL),
 * with its Ed25519 signing key. Also the one place a policy reload happens (API, SIGHUP), so every reload is
 * audited alike.
 */
import { join } from 'node:path'
import type { TesseraConfig } from '../config/config.js'
import type { Clock } from '../core/clock.js'
import { SqliteAuditStore } from '../storage/sqlite/audit-store.js'
import { openPostgresAuditStore } from '../storage/postgres/audit-store.js'
import { AccessControl } from './access-control.js'
import type { AuditActor } from './audit-entry.js'
import { AuditLog } from './audit-log.js'
import type { AuditStore } from './audit-store.js'
import { createCheckpointSigner, loadOrCreateSigningKey } from './checkpoint.js'
import { createClassifier } from './classification.js'
import { createMasker, loadOrCreateMaskingKey } from './masking.js'
import { PolicyEngine, SHIPPED_POLICY_DIR, SHIPPED_SCHEMA_FILE, formatLoadError, type PolicySetStatus } from './policy-engine.js'
import { createResidency } from './residency.js'

export interface Governance {
  readonly engine: PolicyEngine
  readonly access: AccessControl
  readonly audit: AuditLog
  /** Reloads the policy files and records the outcome in the audit log. */
  reloadPolicies(actor: AuditActor, how: string): Promise<PolicySetStatus>
  close(): Promise<void>
}

export function auditStorePath(dataDir: string): string {
  return join(dataDir, 'audit.db')
}

export function signingKeyPath(config: TesseraConfig, dataDir: string): string {
  return config.governance.audit.signingKeyFile ?? join(dataDir, 'audit-signing-key.pem')
}

/** Opens (and migrates) the audit store of the configured backend. */
export async function openAuditStore(config: TesseraConfig, dataDir: string, options: { readonly?: boolean } = {}): Promise<AuditStore> {
  if (config.store.kind === 'postgres') {
    const store = await openPostgresAuditStore({ url: config.store.url!, schema: config.store.schema, applicationName: 'tessera-audit' })
    if (!options.readonly) await store.migrate()
    return store
  }
  const store = new SqliteAuditStore({ path: auditStorePath(dataDir), readonly: options.readonly ?? false })
  if (!options.readonly) await store.migrate()
  return store
}

export function policyDirs(config: TesseraConfig): string[] {
  return [...(config.governance.policies.includeDefaults ? [SHIPPED_POLICY_DIR] : []), ...(config.governance.policies.dir === undefined ? [] : [config.governance.policies.dir])]
}

export async function openGovernance(config: TesseraConfig, dataDir: string, clock: Clock, onError: (error: Error) => void): Promise<Governance> {
  const g = config.governance
  const engine = new PolicyEngine({ dirs: policyDirs(config), schemaFile: SHIPPED_SCHEMA_FILE, clock })
  const access = new AccessControl({
    engine,
    classifier: createClassifier(g.classification),
    mask: createMasker(loadOrCreateMaskingKey(join(dataDir, 'masking.key'))),
    purposes: g.purposes,
    regionOf: createResidency(g.residency),
  })
  const store = await openAuditStore(config, dataDir)
  let audit: AuditLog
  try {
    audit = await AuditLog.open({
      store, clock, onError,
      signer: createCheckpointSigner(g.audit.origin, loadOrCreateSigningKey(signingKeyPath(config, dataDir))),
      checkpointEvery: g.audit.checkpointEvery,
      checkpointIntervalMs: g.audit.checkpointIntervalSeconds * 1000,
    })
  } catch (error) {
    await store.close()
    throw error
  }
  const policyEntry = (kind: string, actor: AuditActor, how: string, s: PolicySetStatus): Parameters<AuditLog['record']>[0] => ({
    kind, actor, action: how, decision: s.ok ? 'ok' : 'error',
    ...(s.ok ? {} : { reason: s.errors.map(formatLoadError).join('; ').slice(0, 1000) }),
    detail: { version: s.version, hash: s.hash, files: [...s.files], policyIds: [...s.policyIds] },
  })
  await audit.record(policyEntry('policy.load', { type: 'system', id: 'tessera' }, 'start', engine.status))
  return {
    engine, access, audit,
    async reloadPolicies(actor, how) {
      const status = engine.reload()
      await audit.record(policyEntry('policy.reload', actor, how, status))
      return status
    },
    async close() {
      try {
        await audit.close()
      } finally {
        await store.close()
      }
    },
  }
}
