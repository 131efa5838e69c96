import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import { describe, expect, it } from 'vitest'
import { TesseraError } from '../../core/errors.js'
import { runEventLogContract } from '../event-log.contract.js'
import type { AppendRecord, EventLog, TopicPartitionOffset } from '../event-log.js'
import { openEmbeddedEventLog } from './embedded-event-log.js'
import { useTempLogs } from './temp-logs.fixture.js'

runEventLogContract('embedded', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'tessera-log-'))
  const log = await openEmbeddedEventLog({ path: join(dir, 'log.db'), sync: 'normal', maxPendingBytes: 16 * 1024 * 1024 })
  return {
    log,
    cleanup: async () => {
      await log.close()
      rmSync(dir, { recursive: true, force: true })
    },
  }
})

function records(count: number, make: (i: number) => AppendRecord): AppendRecord[] {
  return Array.from({ length: count }, (_, i) => make(i))
}

async function rejection(promise: Promise<unknown>): Promise<TesseraError> {
  const error = await promise.then(() => undefined, (e: unknown) => e)
  expect(error).toBeInstanceOf(TesseraError)
  return error as TesseraError
}

async function readAll(log: EventLog, topic: string): Promise<string[]> {
  const values: string[] = []
  for (const { partition, offset } of await log.endOffsets(topic)) {
    for (const r of await log.read(topic, partition, 0, offset)) values.push(r.value)
  }
  return values.sort()
}

function expectDense(positions: readonly TopicPartitionOffset[], from: ReadonlyMap<number, number> = new Map()): void {
  const byPartition = new Map<number, number[]>()
  for (const p of positions) byPartition.set(p.partition, [...(byPartition.get(p.partition) ?? []), p.offset])
  for (const [partition, offsets] of byPartition) {
    const start = from.get(partition) ?? 0
    expect(offsets).toEqual(Array.from({ length: offsets.length }, (_, i) => start + i))
  }
}

describe('EmbeddedEventLog', () => {
  const logs = useTempLogs({ sync: 'full', maxPendingBytes: 1024 * 1024 })
  const open = logs.open

  it('keeps records, topics, committed offsets and the time index across close and reopen', async () => {
    const first = await open()
    await first.ensureTopic('t', 3)
    const written = await first.append('t', records(100, (i) => ({ key: `k${i % 13}`, value: `v${i}`, timestamp: 10_000 + i })))
    await first.createConsumer({ group: 'g', topic: 't' }).commit([{ topic: 't', partition: 1, offset: 7 }])
    const end = await first.endOffsets('t')
    await first.close()

    const second = await open()
    expect(await second.partitions('t')).toBe(3)
    expect(await second.endOffsets('t')).toEqual(end)
    expect(await readAll(second, 't')).toEqual(records(100, (i) => ({ key: null, value: `v${i}` })).map((r) => r.value).sort())
    expect(await second.committedOffsets('g', 't')).toEqual([{ topic: 't', partition: 1, offset: 7 }])

    // Offsets continue where they stopped, and the time index still answers for records older than its maximum.
    const more = await second.append('t', records(30, (i) => ({ key: `k${i % 13}`, value: `w${i}`, timestamp: 5_000 + i * 300 })))
    expectDense(more.positions, new Map(end.map((o) => [o.partition, o.offset])))
    const stored = [
      ...written.positions.map((p, i) => ({ ...p, ts: 10_000 + i })),
      ...more.positions.map((p, i) => ({ ...p, ts: 5_000 + i * 300 })),
    ]
    const finalEnd = await second.endOffsets('t')
    for (const t of [0, 5_000, 9_000, 10_050, 12_000, 13_800, 20_000]) {
      const expected = finalEnd.map(({ partition, offset }) => ({
        topic: 't', partition,
        offset: Math.min(offset, ...stored.filter((r) => r.partition === partition && r.ts >= t).map((r) => r.offset)),
      }))
      expect(await second.offsetsForTime('t', t)).toEqual(expected)
    }
  })

  it('coalesces the appends made in one event-loop turn into one transaction', async () => {
    const log = await open()
    await log.ensureTopic('t', 4)
    const before = log.stats()
    const calls = Array.from({ length: 50 }, (_, c) =>
      log.append('t', records(20, (i) => ({ key: `user-${(c + i) % 17}`, value: `${c}:${i}` }))))
    const results = await Promise.all(calls)
    const after = log.stats()
    expect(after.groupsCommitted - before.groupsCommitted).toBe(1)
    expect(after.callsCommitted - before.callsCommitted).toBe(50)
    expect(after.recordsCommitted - before.recordsCommitted).toBe(1000)
    expect(after.pendingBytes).toBe(0)
    expectDense(results.flatMap((r) => r.positions))
    // Each caller's positions point at its own records.
    for (const [c, { positions }] of results.entries()) {
      for (const [i, p] of positions.entries()) {
        const [record] = await log.read('t', p.partition, p.offset, 1)
        expect(record!.value).toBe(`${c}:${i}`)
      }
    }
    // Calls awaited one after the other each get their own transaction.
    await log.append('t', [{ key: 'a', value: 'x' }])
    await log.append('t', [{ key: 'a', value: 'y' }])
    expect(log.stats().groupsCommitted - after.groupsCommitted).toBe(2)
  })

  it('rejects a call that would exceed maxPendingBytes at once and writes none of it', async () => {
    const log = await open({ maxPendingBytes: 1000 })
    await log.ensureTopic('t', 1)
    const accepted = log.append('t', [{ key: 'a', value: 'a'.repeat(600) }])
    const refused = log.append('t', [{ key: 'b', value: 'b'.repeat(300) }, { key: 'b', value: 'c'.repeat(200) }])
    const error = await rejection(refused)
    expect(error.code).toBe('TESSERA_BACKPRESSURE')
    expect(error.retryAfterSeconds).toBe(1)
    await accepted
    expect(await readAll(log, 't')).toEqual(['a'.repeat(600)])
    expect(log.stats().pendingBytes).toBe(0)
    // Once the pending bytes are committed the same call fits.
    await log.append('t', [{ key: 'b', value: 'b'.repeat(300) }, { key: 'b', value: 'c'.repeat(200) }])
    expect(await log.endOffsets('t')).toEqual([{ topic: 't', partition: 0, offset: 3 }])
    // A call larger than the limit can never be accepted; the caller must split it.
    expect((await rejection(log.append('t', [{ key: 'x', value: 'x'.repeat(1001) }]))).code).toBe('TESSERA_BACKPRESSURE')
  })

  it('rejects every call of a group with TESSERA_BACKPRESSURE when the disk is full, leaving no partial write or gap', async () => {
    const db = new Database(logs.path())
    const log = await open({ database: db })
    await log.ensureTopic('t', 2)
    await log.append('t', [{ key: 'k', value: 'before' }])
    const { page_count: pages } = db.prepare('PRAGMA page_count').get() as { page_count: number }
    // A real SQLITE_FULL: the file may not grow past its current size.
    db.pragma(`max_page_count = ${pages}`)
    const big = records(50, (i) => ({ key: `k${i}`, value: 'x'.repeat(2000) }))
    const failures = await Promise.all([log.append('t', big), log.append('t', [{ key: 'k', value: 'small' }])].map(rejection))
    for (const error of failures) {
      expect(error.code).toBe('TESSERA_BACKPRESSURE')
      expect(error.retryAfterSeconds).toBe(5)
      expect((error.cause as { code?: string }).code).toMatch(/^SQLITE_FULL/)
    }
    expect(log.stats().groupsFailed).toBe(1)
    expect(await readAll(log, 't')).toEqual(['before'])

    db.pragma('max_page_count = 1073741823')
    const end = await log.endOffsets('t')
    const { positions } = await log.append('t', big)
    expectDense(positions, new Map(end.map((o) => [o.partition, o.offset])))
  })

  it('rejects with TESSERA_BACKPRESSURE when another connection holds the write lock beyond the busy timeout', async () => {
    const log = await open({ busyTimeoutMs: 20 })
    await log.ensureTopic('t', 1)
    const other = new Database(logs.path())
    try {
      other.exec('BEGIN IMMEDIATE')
      const error = await rejection(log.append('t', [{ key: 'k', value: 'v' }]))
      expect(error.code).toBe('TESSERA_BACKPRESSURE')
      expect(error.retryAfterSeconds).toBe(1)
      expect((error.cause as { code?: string }).code).toMatch(/^SQLITE_BUSY/)
      other.exec('ROLLBACK')
    } finally {
      other.close()
    }
    expect((await log.append('t', [{ key: 'k', value: 'v' }])).positions).toEqual([{ topic: 't', partition: 0, offset: 0 }])
  })

  it('commits pending appends before close() closes', async () => {
    const log = await open()
    await log.ensureTopic('t', 2)
    const pending = log.append('t', records(10, (i) => ({ key: `k${i}`, value: `v${i}` })))
    await log.close()
    expect((await pending).positions).toHaveLength(10)
    const reopened = await open()
    expect(await readAll(reopened, 't')).toHaveLength(10)
  })

  it('rejects malformed records and unknown topics without failing the other calls of the group', async () => {
    const log = await open()
    await log.ensureTopic('t', 1)
    const good = log.append('t', [{ key: 'k', value: 'ok' }])
    const bad = log.append('t', [{ key: 'k', value: 42 as unknown as string }])
    const unknown = log.append('nope', [{ key: 'k', value: 'v' }])
    expect((await rejection(bad)).code).toBe('TESSERA_VALIDATION')
    expect((await rejection(unknown)).code).toBe('TESSERA_NOT_FOUND')
    expect((await good).positions).toEqual([{ topic: 't', partition: 0, offset: 0 }])
  })

  it('allows one running consumer per group and topic on a connection', async () => {
    const log = await open()
    await log.ensureTopic('t', 1)
    const first = log.createConsumer({ group: 'g', topic: 't', maxWaitMs: 10 })
    const running = first.run(async () => undefined)
    const second = log.createConsumer({ group: 'g', topic: 't', maxWaitMs: 10 })
    expect((await rejection(second.run(async () => undefined))).code).toBe('TESSERA_LOCKED')
    const otherGroup = log.createConsumer({ group: 'h', topic: 't', maxWaitMs: 10 })
    const otherRunning = otherGroup.run(async () => undefined)
    expect(log.stats().runningConsumers).toBe(2)
    await first.stop()
    await running
    const third = log.createConsumer({ group: 'g', topic: 't', maxWaitMs: 10 })
    const thirdRunning = third.run(async () => undefined)
    await third.stop()
    await otherGroup.stop()
    await Promise.all([thirdRunning, otherRunning])
    expect(log.stats().runningConsumers).toBe(0)
  })

  it('refuses a file written by a newer schema version', async () => {
    const db = new Database(logs.path())
    db.pragma('user_version = 99')
    db.close()
    expect((await rejection(open())).code).toBe('TESSERA_CONFIG')
  })
})

describe('embedded log retention', () => {
  const logs = useTempLogs({ sync: 'normal', maxPendingBytes: 16 * 1024 * 1024 })

  it('deletes on a reader connection next to the appender, in chunks, and an emptied partition keeps its offsets after a restart', async () => {
    const appender = await logs.open()
    await appender.ensureTopic('t', 2)
    await appender.append('t', records(12_000, (i) => ({ key: `k${i % 2}`, value: `v${i}`, timestamp: 1000 + i })))
    const ends = await appender.endOffsets('t')
    const reader = await logs.open({ readOnly: true })
    const result = await reader.deleteRecordsBefore('t', 1_000_000, ends, false)
    expect(result).toMatchObject({ supported: true, deleted: 12_000 })
    expect(await appender.startOffsets('t')).toEqual(ends)
    // The appender keeps counting from where it was.
    const next = await appender.append('t', [{ key: 'k0', value: 'after', timestamp: 2_000_000 }])
    expect(next.positions[0]!.offset).toBe(ends.find((e) => e.partition === next.positions[0]!.partition)!.offset)
    await reader.close()
    await appender.close()
    // Reopened: an emptied partition does not start again at 0.
    const reopened = await logs.open()
    expect(await reopened.endOffsets('t')).toEqual(ends.map((e) => (e.partition === next.positions[0]!.partition ? { ...e, offset: e.offset + 1 } : e)))
    const again = await reopened.append('t', records(4, (i) => ({ key: `k${i % 2}`, value: `w${i}`, timestamp: 3_000_000 })))
    for (const p of again.positions) expect(p.offset).toBeGreaterThanOrEqual(ends.find((e) => e.partition === p.partition)!.offset)
    // The time index still answers, and shrank to what is needed.
    expect((await reopened.offsetsForTime('t', 0)).map((o) => o.offset)).toEqual((await reopened.startOffsets('t')).map((o) => o.offset))
    const db = new Database(logs.path(), { readonly: true })
    const rows = (db.prepare("SELECT count(*) AS n FROM log_time_index WHERE topic = 't' AND offset < ?").get(ends[0]!.offset) as { n: number }).n
    db.close()
    expect(rows).toBeLessThanOrEqual(2)
  })
})
