import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { tempDir } from '../../../test/support/factories.js'
import { MemoryEventLog } from '../../log/memory/memory-event-log.js'
import { SqliteAuditStore } from '../../storage/sqlite/audit-store.js'
import { SqliteRetentionStore } from '../../storage/sqlite/privacy-retention.js'
import { SqliteStateBackend } from '../../storage/sqlite/sqlite-backend.js'
import { AuditLog } from '../audit-log.js'
import { createCheckpointSigner, loadOrCreateSigningKey } from '../checkpoint.js'
import { createClassifier, SAFE_DEFAULT } from '../classification.js'
import { runRetention } from './retention-job.js'

const DAY = 86_400_000

describe('log retention in the retention job (fake clock)', () => {
  it('deletes expired log records only below what every reader of the topic consumed, counts them per topic, and audits counts only', async () => {
    const t = tempDir()
    const now = Date.UTC(2026, 5, 1)
    const backend = new SqliteStateBackend({ path: join(t.dir, 'state.db'), sync: 'normal' })
    await backend.migrate()
    const log = new MemoryEventLog()
    await log.ensureTopic('events.raw', 2)
    await log.ensureTopic('events.resolved', 1)
    // Per partition of events.raw: 3 records older than 395 days, then 2 recent ones. Keys pick the partitions.
    const keyOf = async (partition: number): Promise<string> => {
      for (let i = 0; ; i++) {
        const probe = new MemoryEventLog()
        await probe.ensureTopic('x', 2)
        if ((await probe.append('x', [{ key: `k${i}`, value: '' }])).positions[0]!.partition === partition) return `k${i}`
      }
    }
    for (const partition of [0, 1]) {
      const key = await keyOf(partition)
      await log.append('events.raw', [400, 399, 396, 10, 1].map((age, i) => ({ key, value: `SECRET-${partition}-${i}`, timestamp: now - age * DAY })))
    }
    await log.append('events.resolved', [500, 450, 5].map((age) => ({ key: 'p', value: 'resolved', timestamp: now - age * DAY })))
    // The pipeline read all of partition 0, only the first record of partition 1.
    await backend.transaction((tx) => tx.offsets.save('tessera-pipeline', [{ topic: 'events.raw', partition: 0, offset: 5 }, { topic: 'events.raw', partition: 1, offset: 1 }]))
    const auditStore = new SqliteAuditStore({ path: join(t.dir, 'audit.db') })
    await auditStore.migrate()
    const clock = { now: () => now }
    const audit = await AuditLog.open({ store: auditStore, clock, signer: createCheckpointSigner('t/a', loadOrCreateSigningKey(join(t.dir, 'k.pem'))), checkpointEvery: 100, checkpointIntervalMs: 3_600_000 })
    const store = new SqliteRetentionStore(join(t.dir, 'state.db'))
    const options = {
      store, clock, audit, actor: { type: 'cli' as const, id: 'test' }, classifier: createClassifier({ fields: {}, default: SAFE_DEFAULT }),
      config: { schedules: { behavioral: 395 }, intervalMinutes: 0 },
      logTopics: [
        { topic: 'events.raw', log, groups: ['tessera-pipeline'] },
        { topic: 'events.resolved', log, groups: [] }, // read by no Tessera group (inline profile updates)
        { topic: 'events.dead-letter', log, groups: [] }, // not created: skipped
      ],
    }
    expect(await runRetention(options, true)).toMatchObject({ log: { 'events.raw': 4, 'events.resolved': 2 }, logNotes: [] })
    expect((await log.startOffsets('events.raw')).map((o) => o.offset)).toEqual([0, 0])
    const report = await runRetention(options, false)
    expect(report.log).toEqual({ 'events.raw': 4, 'events.resolved': 2 })
    expect((await log.startOffsets('events.raw')).map((o) => o.offset)).toEqual([3, 1]) // partition 1: its unread old records stay
    expect((await log.startOffsets('events.resolved')).map((o) => o.offset)).toEqual([2])
    // Once the pipeline has read partition 1, the next run takes its expired records too.
    await backend.transaction((tx) => tx.offsets.save('tessera-pipeline', [{ topic: 'events.raw', partition: 1, offset: 5 }]))
    expect((await runRetention(options, false)).log).toEqual({ 'events.raw': 2, 'events.resolved': 0 })
    expect((await log.startOffsets('events.raw')).map((o) => o.offset)).toEqual([3, 3])
    const entries = await auditStore.search({ kind: 'retention.run', limit: 10 })
    expect(entries).toHaveLength(3)
    expect(entries[1]!.text).toContain('"events.raw":4')
    expect(entries.map((e) => e.text).join('')).not.toContain('SECRET')
    // No schedule for the events' category: the log is kept.
    expect((await runRetention({ ...options, config: { schedules: { location: 90 }, intervalMinutes: 0 } }, false)).log).toEqual({})
    await store.close()
    await audit.close()
    await auditStore.close()
    await backend.close()
    t.cleanup()
  })
})
