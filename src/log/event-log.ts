/**
 * @module The EventLog port: a partitioned, durable, replayable append-only log with consumer groups.
 *
 * Shaped after Kafka so that the Kafka adapter (scale-out mode) and the embedded SQLite adapter are
 * interchangeable: topics have a fixed number of partitions, a record's key picks its partition (so one
 * customer's events stay ordered), offsets are per partition and dense from 0, and consumers in a group
 * share the partitions of a topic. Delivery to consumers is at-least-once: exactly-once effects come from
 * the consumer storing its offsets in the same transaction as its state, which is why `onAssign` lets the
 * consumer say where to start from.
 */

export interface TopicPartition {
  readonly topic: string
  readonly partition: number
}

export interface TopicPartitionOffset extends TopicPartition {
  /** The offset of the next record to read (Kafka's convention: last processed + 1). */
  readonly offset: number
}

/** A record to append. The value is opaque to the log (Tessera writes JSON). */
export interface AppendRecord {
  /** Partitioning key; records with the same key go to the same partition, in order. */
  readonly key: string | null
  readonly value: string
  /** Milliseconds since the epoch; defaults to the append time. */
  readonly timestamp?: number
}

export interface LogRecord {
  readonly topic: string
  readonly partition: number
  readonly offset: number
  readonly key: string | null
  readonly value: string
  readonly timestamp: number
}

export interface AppendResult {
  /** One entry per appended record, in input order. */
  readonly positions: readonly TopicPartitionOffset[]
}

/** A batch handed to a consumer: records of one topic, possibly from several of its partitions, each partition in order. */
export interface RecordBatch {
  readonly topic: string
  readonly records: readonly LogRecord[]
}

export type BatchHandler = (batch: RecordBatch) => Promise<void>

export interface ConsumerOptions {
  readonly group: string
  readonly topic: string
  /** Most records handed over in one batch. */
  readonly maxBatchRecords?: number
  /** How long to wait for new records before polling again, in ms. */
  readonly maxWaitMs?: number
  /**
   * Called whenever partitions are assigned to this member, before any of their records are delivered.
   * Returns where to start each partition (e.g. offsets committed with the consumer's own state);
   * a partition that is missing starts from the group's committed offset, or from the earliest record.
   */
  readonly onAssign?: (assigned: readonly TopicPartition[]) => Promise<readonly TopicPartitionOffset[]>
  /** Called when partitions are taken away (rebalance or stop), after the in-flight batch finished. */
  readonly onRevoke?: (revoked: readonly TopicPartition[]) => Promise<void>
}

export interface LogConsumer {
  /**
   * Delivers batches to `handler` one at a time until `stop()`; the next batch is fetched only after the
   * handler resolved (natural backpressure). If the handler throws, the consumer stops and `run` rejects:
   * the batch was not committed and will be delivered again to whoever consumes the partition next.
   */
  run(handler: BatchHandler): Promise<void>
  /** Records the group's position in the log (used for lag and as the fallback start). */
  commit(offsets: readonly TopicPartitionOffset[]): Promise<void>
  /** Stops after the in-flight batch; resolves when `run` has returned. */
  stop(): Promise<void>
}

export interface EventLog {
  /** Human-readable adapter name for logs and metrics (`embedded`, `kafka`, `memory`). */
  readonly kind: string
  /** Creates the topic with this many partitions if it does not exist. Idempotent. */
  ensureTopic(topic: string, partitions: number): Promise<void>
  /** Number of partitions of an existing topic. */
  partitions(topic: string): Promise<number>
  /**
   * Appends records and resolves once they are durable. All-or-nothing per call where the backend allows it
   * (embedded: one transaction). Rejects with a `TESSERA_BACKPRESSURE` TesseraError when the log cannot take
   * more right now; the caller must then not acknowledge the records.
   */
  append(topic: string, records: readonly AppendRecord[]): Promise<AppendResult>
  /** Reads up to `limit` records of one partition from `offset` on, without a consumer group. */
  read(topic: string, partition: number, offset: number, limit: number): Promise<readonly LogRecord[]>
  /** Offset that the next appended record of each partition will get (Kafka's high watermark). */
  endOffsets(topic: string): Promise<readonly TopicPartitionOffset[]>
  /** First offset per partition whose record timestamp is >= `timestamp` (or the end offset). */
  offsetsForTime(topic: string, timestamp: number): Promise<readonly TopicPartitionOffset[]>
  /** The group's committed offsets (those recorded through `LogConsumer.commit`). */
  committedOffsets(group: string, topic: string): Promise<readonly TopicPartitionOffset[]>
  createConsumer(options: ConsumerOptions): LogConsumer
  close(): Promise<void>
}

/** Topic names used by Tessera. */
export const TOPICS = {
  raw: 'events.raw',
  resolved: 'events.resolved',
  deadLetter: 'events.dead-letter',
} as const
