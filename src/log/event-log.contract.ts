/**
 * @module The EventLog contract suite: one set of behaviour tests that every adapter (memory, embedded, Kafka) must
 * pass. Call {@link runEventLogContract} from the adapter's test file.
 *
 * The suite is adapter-neutral: it never depends on batch boundaries beyond `maxBatchRecords`, tolerates
 * redelivery (delivery is at-least-once), and uses fresh topic and group names in every test so that it can run
 * against a shared broker.
 */
import { randomUUID } from 'node:crypto'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { TesseraError } from '../core/errors.js'
import type {
  AppendRecord, ConsumerOptions, EventLog, LogConsumer, LogRecord, RecordBatch, TopicPartition, TopicPartitionOffset,
} from './event-log.js'

/** A log under test and how to dispose of it (close it if the test did not, delete its files). */
export interface EventLogFixture {
  readonly log: EventLog
  readonly cleanup: () => Promise<void>
}

/** Upper bound for anything a test waits for; only reached when an adapter hangs. */
const WAIT_LIMIT_MS = 15_000
/** Consumers in the suite poll often so that the suite stays quick on adapters without push wake-ups. */
const MAX_WAIT_MS = 20

function uniqueName(prefix: string): string {
  return `${prefix}-${randomUUID().slice(0, 8)}`
}

/** Rejects with a clear message if `promise` does not settle in time (guards against a hanging adapter). */
async function within<T>(promise: Promise<T>, what: string, ms = WAIT_LIMIT_MS): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const limit = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms)
  })
  try {
    return await Promise.race([promise, limit])
  } finally {
    clearTimeout(timer)
  }
}

/** Resolves when `condition` holds, checking every few ms. */
async function until(condition: () => boolean, what: string): Promise<void> {
  await within((async () => {
    while (!condition()) await new Promise((resolve) => setTimeout(resolve, 5))
  })(), what)
}

function records(count: number, make: (i: number) => AppendRecord): AppendRecord[] {
  return Array.from({ length: count }, (_, i) => make(i))
}

function key(r: LogRecord): string {
  return `${r.partition}:${r.offset}`
}

/** Runs a consumer until `enough(delivered)` holds, then stops it; returns every record delivered (duplicates kept). */
async function consumeUntil(
  log: EventLog, options: ConsumerOptions, enough: (delivered: readonly LogRecord[]) => boolean,
  onBatch?: (batch: RecordBatch, consumer: LogConsumer) => Promise<void>,
): Promise<LogRecord[]> {
  const delivered: LogRecord[] = []
  const consumer = log.createConsumer(options)
  let reached!: () => void
  const done = new Promise<void>((resolve) => {
    reached = resolve
  })
  const running = consumer.run(async (batch) => {
    await onBatch?.(batch, consumer)
    delivered.push(...batch.records)
    if (enough(delivered)) reached()
  })
  await within(Promise.race([done, running.then(() => {
    throw new Error('the consumer ended before it delivered enough records')
  })]), 'records to be delivered')
  await within(consumer.stop(), 'stop()')
  await running
  return delivered
}

function distinct(delivered: readonly LogRecord[]): Map<string, LogRecord> {
  return new Map(delivered.map((r) => [key(r), r]))
}

/** Offsets of each partition in first-delivery order (redeliveries removed). */
function firstDeliveries(delivered: readonly LogRecord[]): Map<number, number[]> {
  const seen = new Set<string>()
  const byPartition = new Map<number, number[]>()
  for (const r of delivered) {
    if (seen.has(key(r))) continue
    seen.add(key(r))
    byPartition.set(r.partition, [...(byPartition.get(r.partition) ?? []), r.offset])
  }
  return byPartition
}

function range(from: number, to: number): number[] {
  return Array.from({ length: to - from }, (_, i) => from + i)
}

async function expectTesseraError(promise: Promise<unknown>, code: TesseraError['code']): Promise<void> {
  const error = await promise.then(() => undefined, (e: unknown) => e)
  expect(error).toBeInstanceOf(TesseraError)
  expect((error as TesseraError).code).toBe(code)
}

/**
 * Registers the contract tests for one adapter.
 * @param name shown in the test names, e.g. `embedded`.
 * @param create makes a fresh, open log for one test.
 * @example
 * runEventLogContract('memory', async () => {
 *   const log = new MemoryEventLog()
 *   return { log, cleanup: () => log.close() }
 * })
 */
export function runEventLogContract(name: string, create: () => Promise<EventLogFixture>): void {
  describe(`EventLog contract: ${name}`, () => {
    let fixture: EventLogFixture
    let log: EventLog

    beforeEach(async () => {
      fixture = await create()
      log = fixture.log
    })

    afterEach(async () => {
      await fixture.cleanup()
    })

    describe('topics', () => {
      it('ensureTopic is idempotent and keeps the partition count of an existing topic', async () => {
        const topic = uniqueName('topic')
        await log.ensureTopic(topic, 3)
        await log.ensureTopic(topic, 3)
        expect(await log.partitions(topic)).toBe(3)
        await log.ensureTopic(topic, 5)
        expect(await log.partitions(topic)).toBe(3)
      })

      it('rejects an unknown topic with TESSERA_NOT_FOUND', async () => {
        const topic = uniqueName('missing')
        await expectTesseraError(log.partitions(topic), 'TESSERA_NOT_FOUND')
        await expectTesseraError(log.append(topic, [{ key: 'k', value: 'v' }]), 'TESSERA_NOT_FOUND')
      })
    })

    describe('append', () => {
      it('assigns dense offsets from 0 per partition, in input order, one position per record', async () => {
        const topic = uniqueName('dense')
        await log.ensureTopic(topic, 4)
        const first = await log.append(topic, records(40, (i) => ({ key: `user-${i % 10}`, value: `a${i}` })))
        const second = await log.append(topic, records(25, (i) => ({ key: `user-${i % 10}`, value: `b${i}` })))
        const positions = [...first.positions, ...second.positions]
        expect(first.positions).toHaveLength(40)
        expect(second.positions).toHaveLength(25)
        const byPartition = new Map<number, number[]>()
        for (const p of positions) {
          expect(p.topic).toBe(topic)
          expect(p.partition).toBeGreaterThanOrEqual(0)
          expect(p.partition).toBeLessThan(4)
          byPartition.set(p.partition, [...(byPartition.get(p.partition) ?? []), p.offset])
        }
        for (const offsets of byPartition.values()) expect(offsets).toEqual(range(0, offsets.length))
      })

      it('sends records with the same key to the same partition, in append order', async () => {
        const topic = uniqueName('keys')
        await log.ensureTopic(topic, 4)
        const partitionOf = new Map<string, number>()
        for (let call = 0; call < 3; call++) {
          const batch = records(12, (i) => ({ key: `user-${i % 6}`, value: `user-${i % 6}:${call}:${i}` }))
          const { positions } = await log.append(topic, batch)
          positions.forEach((p, i) => {
            const k = batch[i]!.key!
            expect(partitionOf.get(k) ?? p.partition).toBe(p.partition)
            partitionOf.set(k, p.partition)
          })
        }
        for (const [k, partition] of partitionOf) {
          const stored = (await log.read(topic, partition, 0, 1000)).filter((r) => r.key === k)
          expect(stored.map((r) => r.value)).toEqual(
            [0, 1, 2].flatMap((call) => [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]
              .filter((i) => `user-${i % 6}` === k).map((i) => `${k}:${call}:${i}`)))
        }
      })

      it('partitions by partitionKey when given (not stored), exactly as a record keyed by it', async () => {
        const topic = uniqueName('pkey')
        await log.ensureTopic(topic, 4)
        const subjects = records(16, (i) => ({ key: `subject-${i}`, value: `plain-${i}` }))
        const plain = await log.append(topic, subjects)
        const aliased = await log.append(topic, subjects.map((r, i) => ({ key: `alias-${i}`, partitionKey: r.key, value: `aliased-${i}` })))
        expect(aliased.positions.map((p) => p.partition)).toEqual(plain.positions.map((p) => p.partition))
        const p = aliased.positions[3]!
        const [stored] = await log.read(topic, p.partition, p.offset, 1)
        expect(stored).toMatchObject({ key: 'alias-3', value: 'aliased-3' })
        expect(stored).not.toHaveProperty('partitionKey')
        const spread = await log.append(topic, records(8, (i) => ({ key: 'same-key', partitionKey: null, value: `rr-${i}` })))
        expect(new Set(spread.positions.map((q) => q.partition)).size).toBeGreaterThan(1)
      })

      it('resolves an empty append with no positions', async () => {
        const topic = uniqueName('empty')
        await log.ensureTopic(topic, 2)
        expect((await log.append(topic, [])).positions).toEqual([])
        expect((await log.endOffsets(topic)).map((o) => o.offset)).toEqual([0, 0])
      })
    })

    describe('read', () => {
      it('returns up to limit records of a partition from an offset, with every field', async () => {
        const topic = uniqueName('read')
        await log.ensureTopic(topic, 1)
        await log.append(topic, records(10, (i) => ({
          key: i % 2 === 0 ? `k${i}` : null, value: `{"n":${i},"s":"ünï©ødé ✓"}`, timestamp: 1_000 + i,
        })))
        const page = await log.read(topic, 0, 3, 4)
        expect(page).toEqual(range(3, 7).map((i) => ({
          topic, partition: 0, offset: i, key: i % 2 === 0 ? `k${i}` : null,
          value: `{"n":${i},"s":"ünï©ødé ✓"}`, timestamp: 1_000 + i,
        })))
        expect(await log.read(topic, 0, 8, 100)).toHaveLength(2)
        expect(await log.read(topic, 0, 10, 100)).toEqual([])
      })

      it('stamps records without a timestamp with the append time', async () => {
        const topic = uniqueName('stamp')
        await log.ensureTopic(topic, 1)
        const before = Date.now()
        await log.append(topic, [{ key: 'k', value: 'v' }])
        const after = Date.now()
        const [record] = await log.read(topic, 0, 0, 1)
        expect(record!.timestamp).toBeGreaterThanOrEqual(before)
        expect(record!.timestamp).toBeLessThanOrEqual(after)
      })
    })

    describe('offsets', () => {
      it('endOffsets is the next offset of every partition', async () => {
        const topic = uniqueName('end')
        await log.ensureTopic(topic, 3)
        expect(await log.endOffsets(topic)).toEqual(range(0, 3).map((partition) => ({ topic, partition, offset: 0 })))
        const { positions } = await log.append(topic, records(30, (i) => ({ key: `k${i}`, value: `v${i}` })))
        const expected = range(0, 3).map((partition) => ({
          topic, partition, offset: positions.filter((p) => p.partition === partition).length,
        }))
        expect(await log.endOffsets(topic)).toEqual(expected)
      })

      it('offsetsForTime finds the first record at or after a time, or the end offset', async () => {
        const topic = uniqueName('time')
        await log.ensureTopic(topic, 2)
        // Timestamps need not grow with offsets (client clocks): the answer is the first offset at or after `t`.
        for (const timestamp of [1_000, 3_000, 2_000, 4_000]) {
          await log.append(topic, [{ key: 'same', value: String(timestamp), timestamp }])
        }
        await log.append(topic, [5_000, 4_500, 6_000].map((timestamp) => ({ key: 'same', value: String(timestamp), timestamp })))
        const partition = (await log.endOffsets(topic)).find((o) => o.offset > 0)!.partition
        const at = async (t: number): Promise<readonly TopicPartitionOffset[]> => log.offsetsForTime(topic, t)
        const offsetAt = async (t: number): Promise<number> => (await at(t)).find((o) => o.partition === partition)!.offset
        expect(await offsetAt(0)).toBe(0)
        expect(await offsetAt(1_000)).toBe(0)
        expect(await offsetAt(1_500)).toBe(1)
        expect(await offsetAt(2_000)).toBe(1)
        expect(await offsetAt(3_000)).toBe(1)
        expect(await offsetAt(3_500)).toBe(3)
        expect(await offsetAt(4_600)).toBe(4)
        expect(await offsetAt(5_500)).toBe(6)
        expect(await offsetAt(7_000)).toBe(7)
        const other = (await at(0)).find((o) => o.partition !== partition)!
        expect(other.offset).toBe(0)
        expect(await at(0)).toHaveLength(2)
      })

      it('committedOffsets returns what the group committed through its consumer', async () => {
        const topic = uniqueName('commit')
        const group = uniqueName('group')
        await log.ensureTopic(topic, 2)
        expect((await log.committedOffsets(group, topic)).filter((o) => o.offset >= 0)).toEqual([])
        await log.append(topic, records(10, (i) => ({ key: `k${i}`, value: `v${i}` })))
        await consumeUntil(log, { group, topic, maxWaitMs: MAX_WAIT_MS }, (d) => d.length > 0, async (_batch, consumer) => {
          await consumer.commit([{ topic, partition: 0, offset: 3 }, { topic, partition: 1, offset: 2 }])
        })
        const committed = await log.committedOffsets(group, topic)
        expect(committed.find((o) => o.partition === 0)).toEqual({ topic, partition: 0, offset: 3 })
        expect(committed.find((o) => o.partition === 1)).toEqual({ topic, partition: 1, offset: 2 })
        expect((await log.committedOffsets(uniqueName('other-group'), topic)).filter((o) => o.offset >= 0)).toEqual([])
      })
    })

    describe('consumer', () => {
      it('delivers every record of its topic, each partition in offset order, in batches of at most maxBatchRecords', async () => {
        const topic = uniqueName('all')
        const noise = uniqueName('noise')
        await log.ensureTopic(topic, 4)
        await log.ensureTopic(noise, 1)
        const appended: TopicPartitionOffset[] = []
        for (let call = 0; call < 4; call++) {
          const { positions } = await log.append(topic, records(50, (i) => ({ key: `user-${i % 20}`, value: `${call}-${i}` })))
          appended.push(...positions)
          await log.append(noise, [{ key: 'x', value: 'noise' }])
        }
        const batches: RecordBatch[] = []
        const delivered = await consumeUntil(log, { group: uniqueName('g'), topic, maxBatchRecords: 7, maxWaitMs: MAX_WAIT_MS },
          (d) => distinct(d).size >= 200, async (batch) => {
            batches.push(batch)
          })
        for (const batch of batches) {
          expect(batch.topic).toBe(topic)
          expect(batch.records.length).toBeGreaterThan(0)
          expect(batch.records.length).toBeLessThanOrEqual(7)
          for (const partition of new Set(batch.records.map((r) => r.partition))) {
            const offsets = batch.records.filter((r) => r.partition === partition).map((r) => r.offset)
            expect(offsets).toEqual([...offsets].sort((a, b) => a - b))
          }
        }
        expect(delivered.every((r) => r.topic === topic)).toBe(true)
        for (const [partition, offsets] of firstDeliveries(delivered)) {
          expect(offsets).toEqual(range(0, appended.filter((p) => p.partition === partition).length))
        }
        expect(distinct(delivered).size).toBe(200)
      })

      it('calls onAssign with every partition before the first batch; its offsets win over committed ones', async () => {
        const topic = uniqueName('assign')
        const group = uniqueName('g')
        await log.ensureTopic(topic, 3)
        // Enough keys that every partition gets at least 6 records.
        const counts = [0, 0, 0]
        for (let round = 0; counts.some((c) => c < 6); round++) {
          const { positions } = await log.append(topic, records(30, (i) => ({ key: `k${round}-${i}`, value: `v${i}` })))
          for (const p of positions) counts[p.partition]!++
        }
        await consumeUntil(log, { group, topic, maxWaitMs: MAX_WAIT_MS }, (d) => d.length > 0, async (_batch, consumer) => {
          await consumer.commit([{ topic, partition: 0, offset: 2 }, { topic, partition: 1, offset: 3 }])
        })

        let assigned: readonly TopicPartition[] | undefined
        let deliveredBeforeAssign = false
        const delivered = await consumeUntil(log, {
          group, topic, maxWaitMs: MAX_WAIT_MS,
          onAssign: async (partitions) => {
            assigned = partitions
            return [{ topic, partition: 0, offset: 5 }]
          },
        }, (d) => {
          const first = firstDeliveries(d)
          return (first.get(0)?.length ?? 0) >= counts[0]! - 5 && (first.get(1)?.length ?? 0) >= counts[1]! - 3 &&
            (first.get(2)?.length ?? 0) >= counts[2]!
        }, async () => {
          if (assigned === undefined) deliveredBeforeAssign = true
        })
        expect(deliveredBeforeAssign).toBe(false)
        expect([...assigned!].sort((a, b) => a.partition - b.partition)).toEqual(
          range(0, 3).map((partition) => ({ topic, partition })))
        const first = firstDeliveries(delivered)
        expect(first.get(0)).toEqual(range(5, counts[0]!))
        expect(first.get(1)).toEqual(range(3, counts[1]!))
        expect(first.get(2)).toEqual(range(0, counts[2]!))
      })

      it('waits for records appended after it started and delivers them', async () => {
        const topic = uniqueName('later')
        await log.ensureTopic(topic, 2)
        const delivered: LogRecord[] = []
        let assigned = false
        const consumer = log.createConsumer({
          group: uniqueName('g'), topic, maxWaitMs: MAX_WAIT_MS,
          onAssign: async () => {
            assigned = true
            return []
          },
        })
        const running = consumer.run(async (batch) => {
          delivered.push(...batch.records)
        })
        await until(() => assigned, 'onAssign')
        await log.append(topic, records(5, (i) => ({ key: `k${i}`, value: `first-${i}` })))
        await until(() => distinct(delivered).size >= 5, 'the first records')
        await log.append(topic, records(5, (i) => ({ key: `k${i}`, value: `second-${i}` })))
        await until(() => distinct(delivered).size >= 10, 'the records appended later')
        await within(consumer.stop(), 'stop()')
        await running
        expect(new Set(delivered.map((r) => r.value))).toEqual(
          new Set([...range(0, 5).map((i) => `first-${i}`), ...range(0, 5).map((i) => `second-${i}`)]))
      })

      it('stop() waits for the in-flight batch, delivers no further batch, calls onRevoke and ends run()', async () => {
        const topic = uniqueName('stop')
        await log.ensureTopic(topic, 1)
        await log.append(topic, records(20, (i) => ({ key: 'k', value: `v${i}` })))
        let release!: () => void
        const gate = new Promise<void>((resolve) => {
          release = resolve
        })
        let inHandler = false
        let batches = 0
        let revoked: readonly TopicPartition[] | undefined
        const consumer = log.createConsumer({
          group: uniqueName('g'), topic, maxBatchRecords: 5, maxWaitMs: MAX_WAIT_MS,
          onRevoke: async (partitions) => {
            revoked = partitions
          },
        })
        const running = consumer.run(async () => {
          batches++
          inHandler = true
          await gate
        })
        await until(() => inHandler, 'the first batch')
        let stopped = false
        const stopping = consumer.stop().then(() => {
          stopped = true
        })
        // Give stop() every chance to resolve early; it must not while the batch is still being handled.
        await new Promise((resolve) => setTimeout(resolve, 50))
        expect(stopped).toBe(false)
        release()
        await within(stopping, 'stop()')
        await within(running, 'run() to end')
        expect(batches).toBe(1)
        expect(revoked).toEqual([{ topic, partition: 0 }])
      })

      it('a handler error rejects run(); a new consumer resumes from the offsets it passes to onAssign', async () => {
        const topic = uniqueName('fail')
        const group = uniqueName('g')
        await log.ensureTopic(topic, 2)
        const { positions } = await log.append(topic, records(30, (i) => ({ key: `k${i % 6}`, value: `v${i}` })))
        const poison = 'v17'
        // The consumer's own state: processed records and the offsets stored with them.
        const processed = new Set<string>()
        const stored = new Map<number, number>()
        const failing = log.createConsumer({ group, topic, maxBatchRecords: 4, maxWaitMs: MAX_WAIT_MS })
        const failure = await within(failing.run(async (batch) => {
          if (batch.records.some((r) => r.value === poison)) throw new Error('poison record')
          for (const r of batch.records) {
            processed.add(r.value)
            stored.set(r.partition, r.offset + 1)
          }
        }).then(() => undefined, (e: unknown) => e), 'run() to reject')
        expect(failure).toBeInstanceOf(Error)
        expect((failure as Error).message).toBe('poison record')
        await within(failing.stop(), 'stop() after a failure')
        expect(processed.has(poison)).toBe(false)

        const resumed = await consumeUntil(log, {
          group, topic, maxWaitMs: MAX_WAIT_MS,
          onAssign: async () => [...stored].map(([partition, offset]) => ({ topic, partition, offset })),
        }, (d) => processed.size + new Set(d.map((r) => r.value).filter((v) => !processed.has(v))).size >= 30)
        expect(resumed.some((r) => r.value === poison)).toBe(true)
        for (const [partition, offsets] of firstDeliveries(resumed)) {
          const from = stored.get(partition) ?? 0
          expect(offsets).toEqual(range(from, positions.filter((p) => p.partition === partition).length))
        }
      })
    })

    describe('retention (deleteRecordsBefore, startOffsets)', () => {
      /** One partition holding records with these timestamps, offsets 0.. in order. */
      async function timed(timestamps: readonly number[]): Promise<string> {
        const topic = uniqueName('retain')
        await log.ensureTopic(topic, 1)
        await log.append(topic, timestamps.map((timestamp, i) => ({ key: 'same', value: `v${i}`, timestamp })))
        return topic
      }
      const upTo = (topic: string, offset: number): TopicPartitionOffset[] => [{ topic, partition: 0, offset }]
      const offsetsOf = async (topic: string): Promise<number[]> => (await log.read(topic, 0, 0, 1000)).map((r) => r.offset)

      it('startOffsets is the first stored offset, the end offset for an empty partition', async () => {
        const topic = uniqueName('start')
        await log.ensureTopic(topic, 2)
        expect(await log.startOffsets(topic)).toEqual([{ topic, partition: 0, offset: 0 }, { topic, partition: 1, offset: 0 }])
        await log.append(topic, records(10, (i) => ({ key: `k${i}`, value: `v${i}` })))
        expect((await log.startOffsets(topic)).map((o) => o.offset)).toEqual([0, 0])
      })

      it('deletes the expired prefix below what every reader consumed, never moving the end; a dry run only counts', async () => {
        const topic = await timed([1000, 2000, 3000, 4000, 5000, 6000, 7000, 8000, 9000, 10000])
        const dry = await log.deleteRecordsBefore(topic, 5500, upTo(topic, 10), true)
        if (!dry.supported) {
          // An adapter whose broker deletes by itself (Kafka retention.ms) deletes nothing here, dry or not.
          expect(dry.reason).toMatch(/retention/)
          expect(await log.deleteRecordsBefore(topic, 5500, upTo(topic, 10), false)).toMatchObject({ supported: false })
          expect(await offsetsOf(topic)).toEqual(range(0, 10))
          return
        }
        expect(dry).toEqual({ supported: true, deleted: 5, partitions: [{ topic, partition: 0, offset: 5 }] })
        expect(await offsetsOf(topic)).toEqual(range(0, 10))
        // Readers have consumed only up to offset 3: nothing at or above it goes.
        expect(await log.deleteRecordsBefore(topic, 5500, upTo(topic, 3), false)).toMatchObject({ deleted: 3 })
        expect(await offsetsOf(topic)).toEqual(range(3, 10))
        expect(await log.startOffsets(topic)).toEqual([{ topic, partition: 0, offset: 3 }])
        expect(await log.deleteRecordsBefore(topic, 5500, upTo(topic, 10), false)).toMatchObject({ deleted: 2, partitions: [{ topic, partition: 0, offset: 5 }] })
        expect(await offsetsOf(topic)).toEqual(range(5, 10))
        // A partition missing from upTo keeps everything; the end never moves; appends go on from it.
        expect(await log.deleteRecordsBefore(topic, 99_000, [], false)).toMatchObject({ deleted: 0 })
        expect(await log.endOffsets(topic)).toEqual([{ topic, partition: 0, offset: 10 }])
        expect((await log.append(topic, [{ key: 'same', value: 'late', timestamp: 11_000 }])).positions).toEqual([{ topic, partition: 0, offset: 10 }])
        expect((await log.offsetsForTime(topic, 0))[0]!.offset).toBe(5)
        expect((await log.offsetsForTime(topic, 8500))[0]!.offset).toBe(8)
      })

      it('stops at the first record that is not expired, and can empty a partition without reusing its offsets', async () => {
        const topic = await timed([1000, 9000, 2000, 3000])
        const first = await log.deleteRecordsBefore(topic, 5000, upTo(topic, 4), false)
        if (!first.supported) return
        expect(first.deleted).toBe(1)
        expect(await offsetsOf(topic)).toEqual([1, 2, 3])
        expect(await log.deleteRecordsBefore(topic, 10_000, upTo(topic, 4), false)).toMatchObject({ deleted: 3 })
        expect(await offsetsOf(topic)).toEqual([])
        expect(await log.startOffsets(topic)).toEqual([{ topic, partition: 0, offset: 4 }])
        expect(await log.endOffsets(topic)).toEqual([{ topic, partition: 0, offset: 4 }])
        expect((await log.append(topic, [{ key: 'same', value: 'next', timestamp: 20_000 }])).positions[0]!.offset).toBe(4)
      })

      it('never deletes what a consumer group committed in this log has not passed', async () => {
        const topic = await timed([1000, 2000, 3000, 4000, 5000, 6000])
        const group = uniqueName('reader')
        await consumeUntil(log, { group, topic, maxWaitMs: MAX_WAIT_MS }, (d) => d.length > 0, async (_batch, consumer) => {
          await consumer.commit([{ topic, partition: 0, offset: 2 }])
        })
        const result = await log.deleteRecordsBefore(topic, 10_000, upTo(topic, 6), false)
        if (!result.supported) return
        expect(result.deleted).toBe(2)
        expect(await offsetsOf(topic)).toEqual([2, 3, 4, 5])
      })
    })

    describe('close', () => {
      it('ends running consumers, then rejects appends with TESSERA_LOG_UNAVAILABLE; closing twice is fine', async () => {
        const topic = uniqueName('close')
        await log.ensureTopic(topic, 1)
        let assigned = false
        const consumer = log.createConsumer({
          group: uniqueName('g'), topic, maxWaitMs: MAX_WAIT_MS,
          onAssign: async () => {
            assigned = true
            return []
          },
        })
        const running = consumer.run(async () => undefined)
        await until(() => assigned, 'onAssign')
        await within(log.close(), 'close()')
        await within(running.then(() => undefined, () => undefined), 'run() to settle after close()')
        await expectTesseraError(log.append(topic, [{ key: 'k', value: 'v' }]), 'TESSERA_LOG_UNAVAILABLE')
        await within(log.close(), 'a second close()')
      })
    })
  })
}
