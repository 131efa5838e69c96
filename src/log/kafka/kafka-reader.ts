/**
 * @module Reads records outside any consumer group Tessera uses: kafkajs has no consumer without a group, so reads go
 * through a member of a private group (`tessera-read-<uuid>`, never committed, so Kafka drops it once it is empty)
 * that seeks the partitions it wants and keeps the others paused.
 */
import { randomUUID } from 'node:crypto'
import { TesseraError } from '../../core/errors.js'
import type { LogRecord } from '../event-log.js'
import type { KafkaClient, KafkaConsumer, KafkaEachBatchPayload, KafkaReceivedMessage } from './kafka-client.js'

export interface ScanRange {
  readonly partition: number
  /** First offset to visit. */
  readonly from: number
  /** Offset after the last one to visit (e.g. the high watermark when the scan started). */
  readonly to: number
}

export interface ScanOptions {
  /** The whole scan (group join included) must finish within this time. */
  readonly timeoutMs: number
  readonly retryAfterSeconds: number
}

/** @returns false to stop scanning this partition. */
export type RecordVisitor = (record: LogRecord) => boolean

export function toLogRecord(topic: string, partition: number, m: KafkaReceivedMessage): LogRecord {
  return {
    topic,
    partition,
    offset: Number(m.offset),
    key: m.key === null ? null : m.key.toString('utf8'),
    value: m.value === null ? '' : m.value.toString('utf8'),
    timestamp: Number(m.timestamp),
  }
}

interface ActiveScan {
  readonly ranges: Map<number, ScanRange>
  readonly visit: RecordVisitor
  readonly finish: () => void
}

/**
 * Serves scans of one topic from a single member of a private group that stays joined: joining a group costs the
 * broker's initial rebalance delay (3 s by default), so paying it once per topic and then seeking and resuming
 * partitions keeps `read` fast. Every partition is paused while no scan wants it. Scans run one at a time.
 */
export class KafkaTopicReader {
  readonly #client: KafkaClient
  readonly #topic: string
  readonly #options: ScanOptions
  #consumer: KafkaConsumer | undefined
  #joined: Promise<void> | undefined
  #assigned: readonly number[] = []
  #active: ActiveScan | undefined
  #queue: Promise<void> = Promise.resolve()
  #closed = false

  constructor(client: KafkaClient, topic: string, options: ScanOptions) {
    this.#client = client
    this.#topic = topic
    this.#options = options
  }

  /**
   * Visits the records of `ranges` in offset order per partition until every range is exhausted or its visitor said
   * stop. Ranges with `from >= to` are skipped without contacting Kafka.
   */
  scan(ranges: readonly ScanRange[], visit: RecordVisitor): Promise<void> {
    const open = new Map(ranges.filter((r) => r.from < r.to).map((r) => [r.partition, r]))
    if (open.size === 0) return Promise.resolve()
    const run = this.#queue.then(() => this.#scan(open, visit))
    this.#queue = run.catch(() => undefined)
    return run
  }

  async close(): Promise<void> {
    this.#closed = true
    await this.#consumer?.disconnect()
  }

  async #scan(ranges: Map<number, ScanRange>, visit: RecordVisitor): Promise<void> {
    if (this.#closed) throw new Error(`the reader of ${this.#topic} is closed`)
    let timer: NodeJS.Timeout | undefined
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new TesseraError('TESSERA_BACKPRESSURE',
        `reading ${this.#topic} from Kafka took longer than ${this.#options.timeoutMs} ms`,
        { retryAfterSeconds: this.#options.retryAfterSeconds })), this.#options.timeoutMs)
    })
    const topic = this.#topic
    try {
      await Promise.race([this.#join(), timeout])
      const done = new Promise<void>((resolve) => {
        this.#active = { ranges, visit, finish: resolve }
      })
      this.#start()
      await Promise.race([done, timeout])
    } finally {
      clearTimeout(timer)
      this.#active = undefined
      this.#consumer?.pause([{ topic, partitions: [...this.#assigned] }])
    }
  }

  /** Seeks and resumes the partitions of the active scan (again after a rejoin). */
  #start(): void {
    const active = this.#active
    const consumer = this.#consumer
    if (active === undefined || consumer === undefined) return
    const partitions = [...active.ranges.keys()].filter((p) => this.#assigned.includes(p))
    for (const partition of partitions) {
      consumer.seek({ topic: this.#topic, partition, offset: String(active.ranges.get(partition)!.from) })
    }
    consumer.resume([{ topic: this.#topic, partitions }])
  }

  #join(): Promise<void> {
    this.#joined ??= (async () => {
      const consumer = this.#client.consumer({
        groupId: `tessera-read-${randomUUID()}`, maxWaitTimeInMs: 50, sessionTimeout: 30_000, rebalanceTimeout: 30_000,
        heartbeatInterval: 3_000,
      })
      this.#consumer = consumer
      let joined!: () => void
      const first = new Promise<void>((resolve) => {
        joined = resolve
      })
      consumer.onGroupJoin((assignment) => {
        this.#assigned = [...(assignment[this.#topic] ?? [])]
        consumer.pause([{ topic: this.#topic, partitions: [...this.#assigned] }])
        this.#start()
        joined()
      })
      await consumer.connect()
      await consumer.subscribe({ topics: [this.#topic], fromBeginning: true })
      await consumer.run({
        autoCommit: false, eachBatchAutoResolve: false, partitionsConsumedConcurrently: 1,
        eachBatch: async (payload) => this.#onBatch(payload),
      })
      await first
    })()
    this.#joined.catch(() => {
      this.#joined = undefined
    })
    return this.#joined
  }

  async #onBatch({ batch, resolveOffset }: KafkaEachBatchPayload): Promise<void> {
    const active = this.#active
    const range = active?.ranges.get(batch.partition)
    if (active === undefined || range === undefined) return
    let finished = false
    for (const message of batch.messages) {
      const record = toLogRecord(this.#topic, batch.partition, message)
      if (record.offset < range.from) continue // fetched before the seek took effect
      if (record.offset >= range.to) {
        finished = true
        break
      }
      resolveOffset(message.offset)
      if (!active.visit(record) || record.offset + 1 >= range.to) {
        finished = true
        break
      }
    }
    if (finished) {
      active.ranges.delete(batch.partition)
      this.#consumer?.pause([{ topic: this.#topic, partitions: [batch.partition] }])
      if (active.ranges.size === 0) active.finish()
    }
  }
}
