/**
 * @module The subset of kafkajs that the Kafka adapter calls, declared as Tessera interfaces so that no kafkajs type
 * reaches the rest of the code base. {@link openKafkaClient} is the only place that imports kafkajs.
 */
import { Kafka, logLevel, Partitioners, type LogEntry } from 'kafkajs'

export interface KafkaClientConfig {
  /** Bootstrap brokers, `host:port`. */
  readonly brokers: readonly string[]
  readonly clientId: string
  /** TCP connect timeout per broker. */
  readonly connectionTimeoutMs: number
  /** How long a broker may take to answer one request. */
  readonly requestTimeoutMs: number
  /** Retries of a failed request (metadata, produce, offsets) before the call rejects. */
  readonly retries: number
  /** Upper bound of one retry delay. */
  readonly maxRetryTimeMs: number
  /** Receives kafkajs's own log lines (connection errors, rebalances); silent when absent. */
  readonly onClientLog?: (entry: KafkaClientLogEntry) => void
}

export interface KafkaClientLogEntry {
  readonly level: 'error' | 'warn' | 'info' | 'debug'
  readonly namespace: string
  readonly message: string
  readonly extra: Readonly<Record<string, unknown>>
}

export interface KafkaOutgoingMessage {
  readonly key: string | null
  readonly value: string
  readonly partition: number
  /** Milliseconds since the epoch, as a decimal string (the record's CreateTime). */
  readonly timestamp: string
}

/** One entry per partition written by a produce request. */
export interface KafkaSendResult {
  readonly topicName: string
  readonly partition: number
  readonly errorCode: number
  /** Offset of the first record written to this partition by the request. */
  readonly baseOffset?: string
}

export interface KafkaProducer {
  connect(): Promise<void>
  disconnect(): Promise<void>
  send(request: {
    topic: string
    /** -1: the leader answers once every in-sync replica has the records. */
    acks: number
    timeout: number
    messages: KafkaOutgoingMessage[]
  }): Promise<KafkaSendResult[]>
}

export interface KafkaTopicMetadata {
  readonly name: string
  readonly partitions: readonly { readonly partitionId: number; readonly leader: number }[]
}

export interface KafkaPartitionOffsets {
  readonly partition: number
  /** The high watermark (next offset) for `fetchTopicOffsets`; the answer for `fetchTopicOffsetsByTimestamp`. */
  readonly offset: string
  readonly high?: string
  readonly low?: string
}

export interface KafkaAdmin {
  connect(): Promise<void>
  disconnect(): Promise<void>
  /** Resolves false when the topic already existed. Sent to the controller broker. */
  createTopics(request: {
    topics: { topic: string; numPartitions: number; configEntries?: { name: string; value: string }[] }[]
    waitForLeaders: boolean
    timeout: number
  }): Promise<boolean>
  fetchTopicMetadata(request: { topics: string[] }): Promise<{ topics: KafkaTopicMetadata[] }>
  fetchTopicOffsets(topic: string): Promise<KafkaPartitionOffsets[]>
  fetchTopicOffsetsByTimestamp(topic: string, timestamp: number): Promise<KafkaPartitionOffsets[]>
  fetchOffsets(request: { groupId: string; topics: string[] }): Promise<{
    topic: string
    partitions: { partition: number; offset: string }[]
  }[]>
}

export interface KafkaReceivedMessage {
  readonly offset: string
  readonly key: Buffer | null
  readonly value: Buffer | null
  readonly timestamp: string
}

export interface KafkaBatch {
  readonly topic: string
  readonly partition: number
  readonly highWatermark: string
  readonly messages: readonly KafkaReceivedMessage[]
}

export interface KafkaEachBatchPayload {
  readonly batch: KafkaBatch
  /** Marks `offset` as processed: the next fetch of this partition starts after it. */
  resolveOffset(offset: string): void
  heartbeat(): Promise<void>
  /** False once the consumer is stopping. */
  isRunning(): boolean
  /** True once a rebalance made this batch's assignment outdated. */
  isStale(): boolean
}

export interface KafkaPartitionOffset {
  readonly topic: string
  readonly partition: number
  readonly offset: string
}

export interface KafkaConsumerConfig {
  readonly groupId: string
  readonly maxWaitTimeInMs: number
  readonly sessionTimeout: number
  readonly rebalanceTimeout: number
  readonly heartbeatInterval: number
}

export interface KafkaConsumer {
  connect(): Promise<void>
  /** Stops fetching (waiting for the batch being processed), leaves the group and closes the connections. */
  disconnect(): Promise<void>
  subscribe(request: { topics: string[]; fromBeginning: boolean }): Promise<void>
  run(config: {
    autoCommit: false
    eachBatchAutoResolve: false
    partitionsConsumedConcurrently: number
    eachBatch: (payload: KafkaEachBatchPayload) => Promise<void>
  }): Promise<void>
  /** The next fetch of this partition starts at `offset`. */
  seek(offset: KafkaPartitionOffset): void
  commitOffsets(offsets: KafkaPartitionOffset[]): Promise<void>
  pause(topics: { topic: string; partitions: number[] }[]): void
  resume(topics: { topic: string; partitions: number[] }[]): void
  /** After every join: the partitions this member now owns, by topic. */
  onGroupJoin(listener: (assignment: Readonly<Record<string, readonly number[]>>) => void): void
  /** A rebalance started: the member gives up its partitions and rejoins (eager protocol). */
  onRebalancing(listener: () => void): void
  /** The consumer failed; `restart` says whether kafkajs restarts it by itself. */
  onCrash(listener: (error: Error, restart: boolean) => void): void
}

export interface KafkaClient {
  producer(): KafkaProducer
  consumer(config: KafkaConsumerConfig): KafkaConsumer
  admin(): KafkaAdmin
}

const LEVELS: Readonly<Record<number, KafkaClientLogEntry['level']>> = {
  [logLevel.ERROR]: 'error', [logLevel.WARN]: 'warn', [logLevel.INFO]: 'info', [logLevel.DEBUG]: 'debug',
}

/**
 * Creates the kafkajs client. Producers never create topics implicitly (`allowAutoTopicCreation: false`, honoured by
 * brokers from Metadata v4 on) and are not idempotent: librdkafka's mock cluster cannot serve InitProducerId, and
 * Tessera gets exactly-once effects from its own messageId dedupe and offsets stored with state instead.
 */
export function openKafkaClient(config: KafkaClientConfig): KafkaClient {
  const onLog = config.onClientLog
  const kafka = new Kafka({
    clientId: config.clientId,
    brokers: [...config.brokers],
    connectionTimeout: config.connectionTimeoutMs,
    requestTimeout: config.requestTimeoutMs,
    retry: { retries: config.retries, initialRetryTime: 100, maxRetryTime: config.maxRetryTimeMs },
    logLevel: onLog ? logLevel.INFO : logLevel.NOTHING,
    logCreator: () => (entry: LogEntry) => {
      const { message, ...extra } = entry.log
      onLog?.({ level: LEVELS[entry.level] ?? 'info', namespace: entry.namespace, message, extra })
    },
  })
  return {
    // Tessera picks every record's partition itself; naming a partitioner only silences kafkajs's v2 migration warning.
    producer: () => kafka.producer({
      allowAutoTopicCreation: false, idempotent: false, maxInFlightRequests: 5, createPartitioner: Partitioners.DefaultPartitioner,
    }),
    admin: () => kafka.admin(),
    consumer(c) {
      const consumer = kafka.consumer({
        groupId: c.groupId,
        allowAutoTopicCreation: false,
        maxWaitTimeInMs: c.maxWaitTimeInMs,
        sessionTimeout: c.sessionTimeout,
        rebalanceTimeout: c.rebalanceTimeout,
        heartbeatInterval: c.heartbeatInterval,
      })
      return {
        connect: () => consumer.connect(),
        disconnect: () => consumer.disconnect(),
        subscribe: (request) => consumer.subscribe(request),
        run: (runConfig) => consumer.run(runConfig),
        seek: (offset) => consumer.seek(offset),
        commitOffsets: (offsets) => consumer.commitOffsets(offsets),
        pause: (topics) => consumer.pause(topics),
        resume: (topics) => consumer.resume(topics),
        onGroupJoin(listener) {
          consumer.on(consumer.events.GROUP_JOIN, (event) => listener(event.payload.memberAssignment))
        },
        onRebalancing(listener) {
          consumer.on(consumer.events.REBALANCING, () => listener())
        },
        onCrash(listener) {
          consumer.on(consumer.events.CRASH, (event) => listener(event.payload.error, event.payload.restart))
        },
      }
    },
  }
}
