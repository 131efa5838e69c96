/** @module The audit log as a command-line tool opens it (its own connection to the audit store), for commands that read or change personal data. */
import type { TesseraConfig } from '../config/config.js'
import { systemClock } from '../core/clock.js'
import { AuditLog } from '../governance/audit-log.js'
import { createCheckpointSigner, loadOrCreateSigningKey } from '../governance/checkpoint.js'
import { openAuditStore, signingKeyPath } from '../governance/open-governance.js'

/** Opens the audit log of `dataDir`; `close()` closes the log and its store. */
export async function openCliAudit(config: TesseraConfig, dataDir: string): Promise<{ readonly audit: AuditLog; close(): Promise<void> }> {
  const store = await openAuditStore(config, dataDir)
  const g = config.governance
  const audit = await AuditLog.open({
    store, clock: systemClock,
    signer: createCheckpointSigner(g.audit.origin, loadOrCreateSigningKey(signingKeyPath(config, dataDir))),
    checkpointEvery: g.audit.checkpointEvery, checkpointIntervalMs: g.audit.checkpointIntervalSeconds * 1000,
  })
  return {
    audit,
    async close() {
      await audit.close()
      await store.close()
    },
  }
}
