/**
 * @module The Kafka adapter of the EventLog port (scale-out mode): topics, partitions, offsets and consumer groups are
 * Kafka's own; Tessera adds its partition function, backpressure and start offsets stored with its state.
 *
 * Delivery guarantees: producers are not idempotent and appends are not transactional (librdkafka's mock cluster, used
 * in tests, serves neither InitProducerId nor transactions). A retried append can therefore store a record twice,
 * and an append spanning several partitions can fail half-way; the caller then gets an error and retries the whole
 * call. Exactly-once effects come from Tessera's messageId dedupe and its offsets stored with its state, not from Kafka.
 */
import { TesseraError } from '../../core/errors.js'
import type {
  AppendRecord, AppendResult, ConsumerOptions, DeleteRecordsResult, EventLog, LogConsumer, LogRecord, TopicPartitionOffset, TopicSettings,
} from '../event-log.js'
import { KafkaAppender } from './kafka-appender.js'
import { type KafkaAdmin, type KafkaClient, type KafkaClientLogEntry, type KafkaProducer, openKafkaClient } from './kafka-client.js'
import { type KafkaConsumerTimings, KafkaLogConsumer } from './kafka-consumer.js'
import { classifyKafkaError, toTesseraError } from './kafka-errors.js'
import { KafkaTopicReader, type RecordVisitor, type ScanRange } from './kafka-reader.js'

export interface KafkaEventLogOptions {
  /** Bootstrap brokers, `host:port`. */
  readonly brokers: readonly string[]
  /** Names this process in broker logs and quotas, e.g. `tessera-ingest-1`. */
  readonly clientId: string
  /** Most bytes of appends in flight; beyond it `append` answers TESSERA_BACKPRESSURE. Default 64 MiB. */
  readonly maxPendingBytes?: number
  /** An append not acknowledged by then is refused with TESSERA_BACKPRESSURE. Default 10 000 ms. */
  readonly appendTimeoutMs?: number
  /** Per-request timeout towards a broker. Default 5 000 ms. */
  readonly requestTimeoutMs?: number
  /** TCP connect timeout. Default 3 000 ms. */
  readonly connectionTimeoutMs?: number
  /** Retries of a failed request before the call gives up. Default 3. */
  readonly retries?: number
  /** Upper bound of one retry delay. Default 1 000 ms. */
  readonly maxRetryTimeMs?: number
  /** The Retry-After that backpressure errors carry. Default 1 s. */
  readonly retryAfterSeconds?: number
  /** Limit for `read`, `offsetsForTime` scans and topic creation. Default 15 000 ms. */
  readonly readTimeoutMs?: number
  /** Consumer-group timings; defaults 30 000 / 60 000 / 3 000 ms (Kafka's usual values). */
  readonly sessionTimeoutMs?: number
  readonly rebalanceTimeoutMs?: number
  readonly heartbeatIntervalMs?: number
  /**
   * How `offsetsForTime` finds offsets: `broker` asks Kafka's time index (ListOffsets by timestamp); `scan` reads
   * the partitions; `auto` (default) asks the broker and switches to scanning for good if the broker shows it has
   * no time index (it answers the end offset for time 0 on a non-empty partition, as librdkafka's mock does).
   */
  readonly timeLookup?: 'auto' | 'broker' | 'scan'
  /**
   * Creates a topic where the CreateTopics API cannot be used: clusters whose topics are provisioned by another
   * tool, and librdkafka's mock cluster. When absent, `ensureTopic` uses CreateTopics (with `retention.ms` from the
   * settings).
   */
  readonly createTopic?: (topic: string, partitions: number, settings: TopicSettings) => Promise<void>
  /** Receives kafkajs's log lines; silent when absent. */
  readonly onClientLog?: (entry: KafkaClientLogEntry) => void
}

type Resolved = Required<Omit<KafkaEventLogOptions, 'createTopic' | 'onClientLog'>> & Pick<KafkaEventLogOptions, 'createTopic' | 'onClientLog'>

/**
 * Connects to the cluster and returns the log.
 * @example
 * const log = await openKafkaEventLog({ brokers: ['kafka-1:9092', 'kafka-2:9092'], clientId: 'tessera-ingest' })
 * await log.ensureTopic(TOPICS.raw, 12)
 */
export async function openKafkaEventLog(options: KafkaEventLogOptions): Promise<KafkaEventLog> {
  if (options.brokers.length === 0) throw new TesseraError('TESSERA_CONFIG', 'Kafka event log: brokers is empty')
  const resolved: Resolved = {
    maxPendingBytes: 64 * 1024 * 1024, appendTimeoutMs: 10_000, requestTimeoutMs: 5_000, connectionTimeoutMs: 3_000,
    retries: 3, maxRetryTimeMs: 1_000, retryAfterSeconds: 1, readTimeoutMs: 15_000, sessionTimeoutMs: 30_000,
    rebalanceTimeoutMs: 60_000, heartbeatIntervalMs: 3_000, timeLookup: 'auto', ...options,
  }
  const client = openKafkaClient({
    brokers: resolved.brokers, clientId: resolved.clientId, connectionTimeoutMs: resolved.connectionTimeoutMs,
    requestTimeoutMs: resolved.requestTimeoutMs, retries: resolved.retries, maxRetryTimeMs: resolved.maxRetryTimeMs,
    ...(resolved.onClientLog ? { onClientLog: resolved.onClientLog } : {}),
  })
  const admin = client.admin()
  const producer = client.producer()
  try {
    await admin.connect()
    await producer.connect()
  } catch (error) {
    await Promise.allSettled([admin.disconnect(), producer.disconnect()])
    throw new TesseraError('TESSERA_LOG_UNAVAILABLE', `cannot connect to Kafka at ${resolved.brokers.join(',')}`, { cause: error })
  }
  return new KafkaEventLog(client, admin, producer, resolved)
}

export class KafkaEventLog implements EventLog {
  readonly kind = 'kafka'
  readonly #client: KafkaClient
  readonly #admin: KafkaAdmin
  readonly #producer: KafkaProducer
  readonly #options: Resolved
  readonly #appender: KafkaAppender
  readonly #consumers = new Set<KafkaLogConsumer>()
  /** Partition counts for `append`; Tessera never changes the partition count of a topic it uses. */
  readonly #partitionCounts = new Map<string, number>()
  readonly #readers = new Map<string, KafkaTopicReader>()
  #brokerTimeIndex: boolean | undefined
  #closed = false

  constructor(client: KafkaClient, admin: KafkaAdmin, producer: KafkaProducer, options: Resolved) {
    this.#client = client
    this.#admin = admin
    this.#producer = producer
    this.#options = Object.freeze({ ...options })
    this.#brokerTimeIndex = options.timeLookup === 'auto' ? undefined : options.timeLookup === 'broker'
    this.#appender = new KafkaAppender(producer, (topic) => this.#cachedPartitions(topic), options)
  }

  /** Creates a missing topic with `retention.ms` when the settings give one; an existing topic's config is not changed. */
  async ensureTopic(topic: string, partitions: number, settings: TopicSettings = {}): Promise<void> {
    this.#assertOpen()
    const existing = await this.#metadata(topic)
    if (existing !== undefined) {
      this.#partitionCounts.set(topic, existing)
      return
    }
    let createError: unknown
    try {
      if (this.#options.createTopic) await this.#options.createTopic(topic, partitions, settings)
      else {
        const configEntries = settings.retentionMs === undefined ? [] : [{ name: 'retention.ms', value: String(settings.retentionMs) }]
        await this.#admin.createTopics({ topics: [{ topic, numPartitions: partitions, configEntries }], waitForLeaders: true, timeout: this.#options.readTimeoutMs })
      }
    } catch (error) {
      // Another process may have created it meanwhile, or the cluster refuses CreateTopics: check what exists.
      createError = error
    }
    const found = await this.#waitForTopic(topic)
    if (found === undefined) {
      const reason = createError instanceof Error ? createError.message : 'it did not appear in the metadata'
      throw new TesseraError('TESSERA_LOG_UNAVAILABLE',
        `Kafka topic ${topic} does not exist and could not be created (${reason}); create it with ${partitions} partitions`,
        { cause: createError })
    }
    if (createError !== undefined && found !== partitions) {
      throw new TesseraError('TESSERA_CONFIG',
        `Kafka topic ${topic} has ${found} partitions, ${partitions} were asked for, and creating it failed: ${String(createError)}`,
        { cause: createError })
    }
    this.#partitionCounts.set(topic, found)
  }

  async partitions(topic: string): Promise<number> {
    const count = await this.#metadata(topic)
    if (count === undefined) throw new TesseraError('TESSERA_NOT_FOUND', `topic ${topic} does not exist; call ensureTopic first`)
    this.#partitionCounts.set(topic, count)
    return count
  }

  async append(topic: string, records: readonly AppendRecord[]): Promise<AppendResult> {
    this.#assertOpen()
    return this.#appender.append(topic, records)
  }

  async read(topic: string, partition: number, offset: number, limit: number): Promise<readonly LogRecord[]> {
    const end = (await this.endOffsets(topic)).find((o) => o.partition === partition)
    if (end === undefined) throw new TesseraError('TESSERA_NOT_FOUND', `topic ${topic} has no partition ${partition}`)
    const found: LogRecord[] = []
    if (limit <= 0) return found
    await this.#scan(topic, [{ partition, from: offset, to: Math.min(end.offset, offset + limit) }], (record) => {
      found.push(record)
      return found.length < limit
    })
    return found
  }

  async endOffsets(topic: string): Promise<readonly TopicPartitionOffset[]> {
    const offsets = await this.#call('read offsets of', topic, () => this.#admin.fetchTopicOffsets(topic))
    return offsets.map((o) => ({ topic, partition: o.partition, offset: Number(o.high ?? o.offset) }))
      .sort((a, b) => a.partition - b.partition)
  }

  async startOffsets(topic: string): Promise<readonly TopicPartitionOffset[]> {
    const offsets = await this.#call('read offsets of', topic, () => this.#admin.fetchTopicOffsets(topic))
    return offsets.map((o) => ({ topic, partition: o.partition, offset: Number(o.low ?? 0) }))
      .sort((a, b) => a.partition - b.partition)
  }

  /** Kafka deletes by itself, by `retention.ms` on the topic (set when Tessera creates it): nothing is deleted here. */
  async deleteRecordsBefore(topic: string, _before: number, _upTo: readonly TopicPartitionOffset[], _dryRun: boolean): Promise<DeleteRecordsResult> {
    this.#assertOpen()
    return { supported: false, reason: `Kafka removes old records of ${topic} by the topic's retention.ms (set when Tessera creates the topic; see docs/operations.md)` }
  }

  async offsetsForTime(topic: string, timestamp: number): Promise<readonly TopicPartitionOffset[]> {
    const bounds = await this.#call('read offsets of', topic, () => this.#admin.fetchTopicOffsets(topic))
    if (this.#brokerTimeIndex === undefined) {
      // Detect once whether the broker has a time index: every record has a timestamp >= 0, so a broker that has one
      // answers the first offset for time 0 on a non-empty partition, never the end offset.
      const nonEmpty = bounds.filter((b) => Number(b.low ?? 0) < Number(b.high ?? b.offset))
      if (nonEmpty.length > 0) {
        const atZero = await this.#call('look up times in', topic, () => this.#admin.fetchTopicOffsetsByTimestamp(topic, 0))
        this.#brokerTimeIndex = nonEmpty.every((b) => atZero.find((z) => z.partition === b.partition)?.offset !== (b.high ?? b.offset))
      }
    }
    if (this.#brokerTimeIndex !== false) {
      const answers = await this.#call('look up times in', topic, () => this.#admin.fetchTopicOffsetsByTimestamp(topic, timestamp))
      return answers.map((a) => {
        const high = Number(bounds.find((b) => b.partition === a.partition)?.high ?? -1)
        // -1: no record at or after `timestamp`; the answer is then the end offset.
        return { topic, partition: a.partition, offset: Number(a.offset) < 0 ? high : Number(a.offset) }
      }).sort((x, y) => x.partition - y.partition)
    }
    const found = new Map(bounds.map((b) => [b.partition, Number(b.high ?? b.offset)]))
    const ranges = bounds.map((b) => ({ partition: b.partition, from: Number(b.low ?? 0), to: Number(b.high ?? b.offset) }))
    await this.#scan(topic, ranges, (record) => {
      if (record.timestamp < timestamp) return true
      found.set(record.partition, record.offset)
      return false
    })
    return [...found].map(([partition, offset]) => ({ topic, partition, offset })).sort((a, b) => a.partition - b.partition)
  }

  async committedOffsets(group: string, topic: string): Promise<readonly TopicPartitionOffset[]> {
    const answer = await this.#call('read committed offsets of', topic, () => this.#admin.fetchOffsets({ groupId: group, topics: [topic] }))
    return answer.flatMap((t) => t.partitions)
      .map((p) => ({ topic, partition: p.partition, offset: Number(p.offset) }))
      .filter((o) => o.offset >= 0) // -1: the group never committed this partition
      .sort((a, b) => a.partition - b.partition)
  }

  createConsumer(options: ConsumerOptions): LogConsumer {
    this.#assertOpen()
    const timings: KafkaConsumerTimings = {
      sessionTimeoutMs: this.#options.sessionTimeoutMs,
      rebalanceTimeoutMs: this.#options.rebalanceTimeoutMs,
      heartbeatIntervalMs: this.#options.heartbeatIntervalMs,
    }
    const consumer = new KafkaLogConsumer(this.#client, options, timings, (c) => this.#consumers.delete(c))
    this.#consumers.add(consumer)
    return consumer
  }

  /** Stops every consumer created by this log, then disconnects. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    await Promise.allSettled([...this.#consumers].map((c) => c.stop()))
    await Promise.allSettled([...this.#readers.values()].map((r) => r.close()))
    await Promise.allSettled([this.#producer.disconnect(), this.#admin.disconnect()])
  }

  /** Bytes of appends waiting for Kafka's acknowledgement (a gauge for metrics). */
  get pendingBytes(): number {
    return this.#appender.pendingBytes
  }

  async #cachedPartitions(topic: string): Promise<number> {
    return this.#partitionCounts.get(topic) ?? this.partitions(topic)
  }

  /** Partition count from the cluster metadata, or undefined when the topic does not exist. */
  async #metadata(topic: string): Promise<number | undefined> {
    try {
      const { topics } = await this.#admin.fetchTopicMetadata({ topics: [topic] })
      return topics.find((t) => t.name === topic)?.partitions.length
    } catch (error) {
      if (classifyKafkaError(error) === 'not-found') return undefined
      throw toTesseraError(error, 'read metadata of', topic, this.#options.retryAfterSeconds)
    }
  }

  async #waitForTopic(topic: string): Promise<number | undefined> {
    const deadline = Date.now() + this.#options.readTimeoutMs
    for (;;) {
      const count = await this.#metadata(topic)
      if (count !== undefined || Date.now() > deadline) return count
      await new Promise((resolve) => setTimeout(resolve, 100))
    }
  }

  async #scan(topic: string, ranges: readonly ScanRange[], visit: RecordVisitor): Promise<void> {
    this.#assertOpen()
    let reader = this.#readers.get(topic)
    if (reader === undefined) {
      reader = new KafkaTopicReader(this.#client, topic,
        { timeoutMs: this.#options.readTimeoutMs, retryAfterSeconds: this.#options.retryAfterSeconds })
      this.#readers.set(topic, reader)
    }
    try {
      await reader.scan(ranges, visit)
    } catch (error) {
      throw toTesseraError(error, 'read', topic, this.#options.retryAfterSeconds)
    }
  }

  async #call<T>(what: string, topic: string, call: () => Promise<T>): Promise<T> {
    try {
      return await call()
    } catch (error) {
      throw toTesseraError(error, what, topic, this.#options.retryAfterSeconds)
    }
  }

  #assertOpen(): void {
    if (this.#closed) throw new TesseraError('TESSERA_LOG_UNAVAILABLE', 'the event log is closed')
  }
}
