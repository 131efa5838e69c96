/**
 * @module In-memory EventLog: a complete, non-durable implementation of the port for unit tests and
 * throwaway runs. It passes the same contract suite as the embedded and Kafka adapters.
 */
import { TesseraError } from '../../core/errors.js'
import { partitionFor } from '../../core/hash.js'
import {
  deletableUpTo,
  type AppendRecord, type AppendResult, type BatchHandler, type ConsumerOptions, type DeleteRecordsResult, type EventLog, type LogConsumer,
  type LogRecord, type TopicPartition, type TopicPartitionOffset,
} from '../event-log.js'

interface Topic {
  /** The records still stored, per partition; the first one has offset `start[partition]`. */
  readonly partitions: LogRecord[][]
  /** Offset of the first stored record of each partition (moves when retention deletes records). */
  readonly start: number[]
}

export interface MemoryEventLogOptions {
  /** When set, `append` rejects with backpressure once this many records are stored. */
  readonly maxRecords?: number
}

export class MemoryEventLog implements EventLog {
  readonly kind = 'memory'
  readonly #topics = new Map<string, Topic>()
  readonly #committed = new Map<string, Map<number, number>>()
  readonly #waiters = new Set<() => void>()
  readonly #options: MemoryEventLogOptions
  #size = 0
  #roundRobin = 0
  #closed = false

  constructor(options: MemoryEventLogOptions = {}) {
    this.#options = Object.freeze({ ...options })
  }

  async ensureTopic(topic: string, partitions: number): Promise<void> {
    if (!this.#topics.has(topic)) {
      this.#topics.set(topic, { partitions: Array.from({ length: partitions }, () => []), start: new Array<number>(partitions).fill(0) })
    }
  }

  async partitions(topic: string): Promise<number> {
    return this.#topic(topic).partitions.length
  }

  async append(topic: string, records: readonly AppendRecord[]): Promise<AppendResult> {
    this.#assertOpen()
    const t = this.#topic(topic)
    if (this.#options.maxRecords !== undefined && this.#size + records.length > this.#options.maxRecords) {
      throw new TesseraError('TESSERA_BACKPRESSURE', 'memory log is full', { retryAfterSeconds: 1 })
    }
    const now = Date.now()
    const positions: TopicPartitionOffset[] = []
    for (const record of records) {
      const partition = partitionFor(record.partitionKey === undefined ? record.key : record.partitionKey, t.partitions.length, this.#roundRobin++)
      const list = t.partitions[partition]!
      const offset = t.start[partition]! + list.length
      list.push({ topic, partition, offset, key: record.key, value: record.value, timestamp: record.timestamp ?? now })
      positions.push({ topic, partition, offset })
    }
    this.#size += records.length
    for (const wake of this.#waiters) wake()
    return { positions }
  }

  async read(topic: string, partition: number, offset: number, limit: number): Promise<readonly LogRecord[]> {
    const t = this.#topic(topic)
    const list = t.partitions[partition]
    if (!list) throw new TesseraError('TESSERA_NOT_FOUND', `topic ${topic} has no partition ${partition}`)
    if (!(limit > 0)) return []
    const from = Math.max(0, offset - t.start[partition]!)
    return list.slice(from, from + limit)
  }

  async endOffsets(topic: string): Promise<readonly TopicPartitionOffset[]> {
    const t = this.#topic(topic)
    return t.partitions.map((list, partition) => ({ topic, partition, offset: t.start[partition]! + list.length }))
  }

  async startOffsets(topic: string): Promise<readonly TopicPartitionOffset[]> {
    const t = this.#topic(topic)
    return t.partitions.map((_, partition) => ({ topic, partition, offset: t.start[partition]! }))
  }

  async offsetsForTime(topic: string, timestamp: number): Promise<readonly TopicPartitionOffset[]> {
    const t = this.#topic(topic)
    return t.partitions.map((list, partition) => {
      const found = list.findIndex((r) => r.timestamp >= timestamp)
      return { topic, partition, offset: t.start[partition]! + (found === -1 ? list.length : found) }
    })
  }

  async deleteRecordsBefore(topic: string, before: number, upTo: readonly TopicPartitionOffset[], dryRun: boolean): Promise<DeleteRecordsResult> {
    this.#assertOpen()
    const t = this.#topic(topic)
    const limits = deletableUpTo(topic, t.partitions.length, upTo, [...this.#committed].filter(([k]) => k.endsWith(`\u0000${topic}`)).map(([, m]) => m))
    let deleted = 0
    const partitions: TopicPartitionOffset[] = []
    t.partitions.forEach((list, partition) => {
      const start = t.start[partition]!
      const old = list.findIndex((r) => r.timestamp >= before)
      const end = Math.min(start + (old === -1 ? list.length : old), limits[partition]!)
      const n = Math.max(0, end - start)
      if (n > 0 && !dryRun) {
        list.splice(0, n)
        t.start[partition] = start + n
        this.#size -= n
      }
      deleted += n
      partitions.push({ topic, partition, offset: start + n })
    })
    return { supported: true, deleted, partitions }
  }

  async committedOffsets(group: string, topic: string): Promise<readonly TopicPartitionOffset[]> {
    const map = this.#committed.get(`${group}\u0000${topic}`)
    return [...(map ?? new Map<number, number>())].map(([partition, offset]) => ({ topic, partition, offset }))
  }

  createConsumer(options: ConsumerOptions): LogConsumer {
    return new MemoryConsumer(this, options)
  }

  async close(): Promise<void> {
    this.#closed = true
    for (const wake of this.#waiters) wake()
  }

  /** @internal used by the consumer */
  commitFor(group: string, offsets: readonly TopicPartitionOffset[]): void {
    for (const o of offsets) {
      const key = `${group}\u0000${o.topic}`
      const map = this.#committed.get(key) ?? new Map<number, number>()
      map.set(o.partition, o.offset)
      this.#committed.set(key, map)
    }
  }

  /** @internal resolves on the next append or after `ms`. */
  waitForAppend(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const wake = (): void => {
        clearTimeout(timer)
        this.#waiters.delete(wake)
        resolve()
      }
      const timer = setTimeout(wake, ms)
      this.#waiters.add(wake)
    })
  }

  get closed(): boolean {
    return this.#closed
  }

  #topic(topic: string): Topic {
    const t = this.#topics.get(topic)
    if (!t) throw new TesseraError('TESSERA_NOT_FOUND', `topic ${topic} does not exist; call ensureTopic first`)
    return t
  }

  #assertOpen(): void {
    if (this.#closed) throw new TesseraError('TESSERA_LOG_UNAVAILABLE', 'the event log is closed')
  }
}

class MemoryConsumer implements LogConsumer {
  readonly #log: MemoryEventLog
  readonly #options: ConsumerOptions
  #stopping = false
  #running: Promise<void> | undefined

  constructor(log: MemoryEventLog, options: ConsumerOptions) {
    this.#log = log
    this.#options = options
  }

  run(handler: BatchHandler): Promise<void> {
    this.#running ??= this.#loop(handler)
    return this.#running
  }

  async commit(offsets: readonly TopicPartitionOffset[]): Promise<void> {
    this.#log.commitFor(this.#options.group, offsets)
  }

  async stop(): Promise<void> {
    this.#stopping = true
    await this.#running?.catch(() => undefined)
  }

  async #loop(handler: BatchHandler): Promise<void> {
    const { topic, group } = this.#options
    const max = this.#options.maxBatchRecords ?? 1000
    const count = await this.#log.partitions(topic)
    const assigned: TopicPartition[] = Array.from({ length: count }, (_, partition) => ({ topic, partition }))
    const positions = new Map<number, number>()
    for (const c of await this.#log.committedOffsets(group, topic)) positions.set(c.partition, c.offset)
    for (const o of (await this.#options.onAssign?.(assigned)) ?? []) positions.set(o.partition, o.offset)
    try {
      while (!this.#stopping && !this.#log.closed) {
        const records: LogRecord[] = []
        for (const { partition } of assigned) {
          if (records.length >= max) break
          const from = positions.get(partition) ?? 0
          records.push(...(await this.#log.read(topic, partition, from, max - records.length)))
        }
        if (records.length === 0) {
          await this.#log.waitForAppend(this.#options.maxWaitMs ?? 100)
          continue
        }
        await handler({ topic, records })
        for (const r of records) positions.set(r.partition, r.offset + 1)
      }
    } finally {
      await this.#options.onRevoke?.(assigned)
    }
  }
}
