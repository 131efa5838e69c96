import { join } from 'node:path'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { tempDir } from '../../../test/support/factories.js'
import { loadConfig } from '../../config/config.js'
import { SqliteAuditStore } from '../../storage/sqlite/audit-store.js'
import { SqliteStateBackend } from '../../storage/sqlite/sqlite-backend.js'
import { AuditLog } from '../audit-log.js'
import { createCheckpointSigner, loadOrCreateSigningKey } from '../checkpoint.js'
import type { RetentionReport } from './retention-job.js'
import { startRetentionJob } from './open-retention.js'

afterEach(() => {
  vi.useRealTimers()
})

describe('the retention job of tessera up', () => {
  it('runs every intervalMinutes (first after one interval), with the injected clock, and stops', async () => {
    const t = tempDir()
    const statePath = join(t.dir, 'state.db')
    const backend = new SqliteStateBackend({ path: statePath, sync: 'normal' })
    await backend.migrate()
    const day = 86_400_000
    const now = Date.UTC(2025, 0, 1)
    await backend.transaction((tx) => tx.profiles.appendEvents([
      { profileId: 'p', messageId: 'old', sourceId: 'web', type: 'track', name: 'x', timestamp: now - 400 * day, payload: '{}' },
      { profileId: 'p', messageId: 'new', sourceId: 'web', type: 'track', name: 'x', timestamp: now - 1 * day, payload: '{}' },
    ]))
    const auditStore = new SqliteAuditStore({ path: join(t.dir, 'audit.db') })
    await auditStore.migrate()
    const clock = { now: () => now }
    const audit = await AuditLog.open({ store: auditStore, clock, signer: createCheckpointSigner('t/a', loadOrCreateSigningKey(join(t.dir, 'k.pem'))), checkpointEvery: 100, checkpointIntervalMs: 3_600_000 })
    const config = loadConfig({ env: {}, file: undefined, overrides: { dataDir: t.dir, governance: { retention: { intervalMinutes: 10 } } } })
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] })
    const reports: RetentionReport[] = []
    const stop = startRetentionJob({ config, statePath, audit, clock, onReport: (r) => reports.push(r), onError: (e) => { throw e } })
    await vi.advanceTimersByTimeAsync(9 * 60_000)
    expect(reports).toHaveLength(0)
    await vi.advanceTimersByTimeAsync(60_000)
    await vi.waitFor(() => expect(reports).toHaveLength(1))
    expect(reports[0]).toMatchObject({ time: new Date(now).toISOString(), events: { behavioral: 1 } })
    await stop()
    await vi.advanceTimersByTimeAsync(60 * 60_000)
    expect(reports).toHaveLength(1)
    expect((await backend.reader().events('p', { limit: 10 })).events.map((e) => e.messageId)).toEqual(['new'])
    await audit.close()
    await auditStore.close()
    await backend.close()
    t.cleanup()
  })
})
