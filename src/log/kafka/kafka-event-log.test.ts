import { randomUUID } from 'node:crypto'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { TesseraError } from '../../core/errors.js'
import { type KafkaMock, skipWithoutKafkaMock, startKafkaMock } from '../../../test/support/kafka-mock.js'
import { runEventLogContract } from '../event-log.contract.js'
import type { LogConsumer, LogRecord, TopicPartition } from '../event-log.js'
import { SealedEventLog } from '../sealed/sealed-event-log.js'
import { tempKeyring } from '../sealed/sealed-log.fixture.js'
import { type KafkaEventLog, type KafkaEventLogOptions, openKafkaEventLog } from './kafka-event-log.js'

async function until(condition: () => boolean, what: string, ms = 30_000): Promise<void> {
  const deadline = Date.now() + ms
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
}

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(() => undefined, (e: unknown) => e)
}

const skip = skipWithoutKafkaMock()

describe.skipIf(skip)('KafkaEventLog on librdkafka\'s mock cluster', () => {
  let kafka: KafkaMock

  beforeAll(async () => {
    kafka = await startKafkaMock({ brokers: 3 })
  })

  afterAll(async () => {
    await kafka?.stop()
  })

  function options(overrides: Partial<KafkaEventLogOptions> = {}): KafkaEventLogOptions {
    return {
      brokers: kafka.brokers, clientId: 'tessera-test',
      // The mock cluster cannot serve CreateTopics; the fixture creates topics through its own API.
      createTopic: (topic, partitions) => kafka.createTopic(topic, partitions),
      heartbeatIntervalMs: 500, sessionTimeoutMs: 10_000, rebalanceTimeoutMs: 10_000,
      ...overrides,
    }
  }

  runEventLogContract('kafka', async () => {
    const log = await openKafkaEventLog(options())
    return { log, cleanup: () => log.close() }
  })

  runEventLogContract('sealed kafka', async () => {
    const keys = await tempKeyring()
    const log = new SealedEventLog(await openKafkaEventLog(options()), { keyring: keys.keyring, seal: true })
    return { log, cleanup: async () => { await log.close(); await keys.cleanup() } }
  })

  describe('Kafka only', () => {
    const opened: KafkaEventLog[] = []
    async function open(overrides: Partial<KafkaEventLogOptions> = {}): Promise<KafkaEventLog> {
      const log = await openKafkaEventLog(options(overrides))
      opened.push(log)
      return log
    }

    afterAll(async () => {
      await Promise.all(opened.map((log) => log.close()))
    })

    it('hands retention.ms to topic creation (the mock cannot take CreateTopics: the fixture hook receives it), and leaves deletion to Kafka', async () => {
      const seen: { topic: string; retentionMs?: number }[] = []
      const log = await open({ createTopic: async (topic, partitions, settings) => {
        seen.push({ topic, ...(settings.retentionMs === undefined ? {} : { retentionMs: settings.retentionMs }) })
        await kafka.createTopic(topic, partitions)
      } })
      const topic = `retained-${randomUUID().slice(0, 8)}`
      await log.ensureTopic(topic, 2, { retentionMs: 395 * 86_400_000 })
      await log.ensureTopic(topic, 2, { retentionMs: 1 }) // exists: its config is not touched
      expect(seen).toEqual([{ topic, retentionMs: 395 * 86_400_000 }])
      await log.append(topic, [{ key: 'a', value: '1', timestamp: 1 }, { key: 'b', value: '2', timestamp: 2 }])
      expect((await log.startOffsets(topic)).map((o) => o.offset)).toEqual([0, 0])
      expect(await log.deleteRecordsBefore(topic, Date.now(), await log.endOffsets(topic), false)).toMatchObject({ supported: false, reason: expect.stringMatching(/retention\.ms/) })
    })

    it('two members split the partitions; a member leaving moves its partitions; state-stored offsets give exactly-once', async () => {
      const log = await open()
      const topic = `split-${randomUUID().slice(0, 8)}`
      const group = `g-${randomUUID().slice(0, 8)}`
      await log.ensureTopic(topic, 4)
      let next = 0
      const appendMore = async (count: number): Promise<void> => {
        await log.append(topic, Array.from({ length: count }, () => ({ key: `user-${next % 17}`, value: `msg-${next++}` })))
      }
      // The consumers' shared state: effects (messageId -> times applied) and the offsets stored with them. Both are
      // updated in the same synchronous step, standing in for one database transaction.
      const applied = new Map<string, number>()
      const stored = new Map<number, number>()
      const delivered = new Set<string>()
      const assignments = new Map<string, readonly TopicPartition[]>()
      const member = (name: string): { consumer: LogConsumer; running: Promise<void> } => {
        const consumer = log.createConsumer({
          group, topic, maxBatchRecords: 10, maxWaitMs: 20,
          onAssign: async (partitions) => {
            assignments.set(name, partitions)
            return partitions.filter((p) => stored.has(p.partition)).map((p) => ({ ...p, offset: stored.get(p.partition)! }))
          },
          onRevoke: async () => {
            assignments.set(name, [])
          },
        })
        const running = consumer.run(async (batch) => {
          for (const r of batch.records) {
            delivered.add(r.value)
            if (r.offset < (stored.get(r.partition) ?? 0)) continue // already applied: a redelivery
            applied.set(r.value, (applied.get(r.value) ?? 0) + 1)
            stored.set(r.partition, r.offset + 1)
          }
          await consumer.commit(batch.records.map((r: LogRecord) => ({ topic, partition: r.partition, offset: r.offset + 1 })))
        })
        return { consumer, running }
      }

      await appendMore(100)
      const a = member('a')
      await until(() => applied.size >= 100, 'member a to process the first records')
      const b = member('b')
      await until(() => (assignments.get('a')?.length ?? 0) > 0 && (assignments.get('b')?.length ?? 0) > 0, 'the partitions to be split')
      const split = [...assignments.get('a')!, ...assignments.get('b')!].map((p) => p.partition).sort()
      expect(split).toEqual([0, 1, 2, 3])
      await appendMore(100)
      await until(() => applied.size >= 200, 'both members to process the second records')

      await a.consumer.stop()
      await a.running
      await until(() => assignments.get('b')?.length === 4, 'b to take over every partition')
      await appendMore(100)
      await until(() => applied.size >= 300, 'b to process the records appended after a left')
      await b.consumer.stop()
      await b.running

      const all = Array.from({ length: 300 }, (_, i) => `msg-${i}`)
      expect(all.filter((v) => !delivered.has(v))).toEqual([])
      expect([...applied.values()].every((times) => times === 1)).toBe(true)
      expect(applied.size).toBe(300)
      const committed = await log.committedOffsets(group, topic)
      expect(committed.map((o) => o.offset)).toEqual([...stored].sort((x, y) => x[0] - y[0]).map(([, offset]) => offset))
    }, 90_000)

    it('answers TESSERA_BACKPRESSURE within a bounded time while Kafka is down, and recovers by itself', async () => {
      const log = await open({ appendTimeoutMs: 2_000, requestTimeoutMs: 1_000, connectionTimeoutMs: 500, retries: 1 })
      const topic = `outage-${randomUUID().slice(0, 8)}`
      await log.ensureTopic(topic, 2)
      await log.append(topic, [{ key: 'k', value: 'before' }])
      for (const id of kafka.brokerIds) await kafka.setBrokerDown(id)
      try {
        const started = Date.now()
        const error = await rejection(log.append(topic, [{ key: 'k', value: 'during' }]))
        expect(error).toBeInstanceOf(TesseraError)
        expect((error as TesseraError).code).toBe('TESSERA_BACKPRESSURE')
        expect((error as TesseraError).retryAfterSeconds).toBeGreaterThan(0)
        expect(Date.now() - started).toBeLessThan(5_000)
      } finally {
        for (const id of kafka.brokerIds) await kafka.setBrokerUp(id)
      }
      // No reconnect call: the same log appends again once the brokers are back (the caller retries after Retry-After).
      const deadline = Date.now() + 30_000
      let result: Awaited<ReturnType<KafkaEventLog['append']>> | undefined
      while (result === undefined) {
        try {
          result = await log.append(topic, [{ key: 'k', value: 'after' }])
        } catch (error) {
          if (!(error instanceof TesseraError) || error.code !== 'TESSERA_BACKPRESSURE' || Date.now() > deadline) throw error
          await new Promise((resolve) => setTimeout(resolve, 250))
        }
      }
      const { partition, offset } = result.positions[0]!
      const values = (await log.read(topic, partition, 0, offset + 1)).map((r) => r.value)
      expect(values[0]).toBe('before')
      expect(values.at(-1)).toBe('after')
    }, 60_000)

    it('refuses appends beyond maxPendingBytes with TESSERA_BACKPRESSURE instead of buffering', async () => {
      const log = await open({ maxPendingBytes: 1_000, appendTimeoutMs: 20_000, requestTimeoutMs: 5_000 })
      const topic = `budget-${randomUUID().slice(0, 8)}`
      await log.ensureTopic(topic, 1)
      await log.partitions(topic) // caches the partition count, so both appends below check the budget in call order
      // Both calls start in the same tick: the second finds the first's 800 bytes not acknowledged yet.
      const first = log.append(topic, [{ key: 'k', value: 'x'.repeat(800) }])
      const second = rejection(log.append(topic, [{ key: 'k', value: 'y'.repeat(400) }]))
      const error = await second
      expect(error).toBeInstanceOf(TesseraError)
      expect((error as TesseraError).code).toBe('TESSERA_BACKPRESSURE')
      expect((await first).positions).toEqual([{ topic, partition: 0, offset: 0 }])
      await until(() => log.pendingBytes === 0, 'the budget to be released')
      // Once acknowledged, the budget is free again.
      await log.append(topic, [{ key: 'k', value: 'y'.repeat(400) }])
    }, 60_000)

    it('measures append throughput', async () => {
      const log = await open()
      const topic = `speed-${randomUUID().slice(0, 8)}`
      await log.ensureTopic(topic, 4)
      const value = JSON.stringify({ type: 'track', event: 'Page Viewed', properties: { path: '/pricing', n: 0 }, pad: 'x'.repeat(300) })
      const batches = 50
      const size = 200
      const started = performance.now()
      for (let b = 0; b < batches; b++) {
        await log.append(topic, Array.from({ length: size }, (_, i) => ({ key: `user-${(b * size + i) % 1000}`, value })))
      }
      const seconds = (performance.now() - started) / 1000
      const total = batches * size
      console.log(`kafka append (mock, 3 brokers, acks=all): ${Math.round(total / seconds)} records/s in batches of ${size}`)
      expect((await log.endOffsets(topic)).reduce((sum, o) => sum + o.offset, 0)).toBe(total)
    }, 60_000)
  })
})