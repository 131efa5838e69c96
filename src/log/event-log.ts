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
  /**
   * Picks the partition instead of `key` when set (null: round-robin), and is not stored. The sealing decorator
   * stores a pseudonym as the key but partitions by the clear subject, so a subject's records stay on the same
   * partition whether they were written sealed or plain.
   */
  readonly partitionKey?: string | null
}

export interface LogRecord {
  readonly topic: string
  readonly partition: number
  readonly offset: number
  readonly key: string | null
  readonly value: string
  readonly timestamp: number
  /**
   * Set by the sealing decorator (src/log/sealed/) on a record whose data key was destroyed (crypto-shredding):
   * `value` is empty and `key` is the subject's pseudonym. Consumers skip it and count it; its offset still counts
   * as read.
   */
  readonly shredded?: true
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

/** What {@link EventLog.deleteRecordsBefore} did: records deleted (or counted, in a dry run), or why it cannot delete. */
export type DeleteRecordsResult =
  /** `partitions`: where each partition starts after the deletion (in a dry run: would start). */
  | { readonly supported: true; readonly deleted: number; readonly partitions: readonly TopicPartitionOffset[] }
  | { readonly supported: false; readonly reason: string }

/** Settings of a topic Tessera creates. */
export interface TopicSettings {
  /** How long the broker keeps records (Kafka `retention.ms`); adapters that delete through the retention job ignore it. */
  readonly retentionMs?: number
}

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
  /** Creates the topic with this many partitions (and settings) if it does not exist. Idempotent; an existing topic is left as it is. */
  ensureTopic(topic: string, partitions: number, settings?: TopicSettings): Promise<void>
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
  /** First offset still stored per partition (Kafka's log start offset); the end offset when the partition is empty. */
  startOffsets(topic: string): Promise<readonly TopicPartitionOffset[]>
  /**
   * Log retention: deletes, per partition, the longest run of records from the start whose timestamps are all before
   * `before`, but never a record at or above `upTo` for its partition (what every reader has consumed; a partition
   * missing from `upTo` keeps everything) nor one a consumer group committed in this log has not passed. Offsets are
   * never reused: the start of the partition moves, its end stays. With `dryRun`, only counts. Adapters whose broker
   * deletes by itself (Kafka, `retention.ms`) answer `supported: false` and delete nothing.
   */
  deleteRecordsBefore(topic: string, before: number, upTo: readonly TopicPartitionOffset[], dryRun: boolean): Promise<DeleteRecordsResult>
  /** First offset per partition whose record timestamp is >= `timestamp` (or the end offset). */
  offsetsForTime(topic: string, timestamp: number): Promise<readonly TopicPartitionOffset[]>
  /** The group's committed offsets (those recorded through `LogConsumer.commit`). */
  committedOffsets(group: string, topic: string): Promise<readonly TopicPartitionOffset[]>
  createConsumer(options: ConsumerOptions): LogConsumer
  close(): Promise<void>
}

/**
 * The first offset, per partition, that retention may not delete: `upTo` (missing partition: 0), lowered to the
 * position of every consumer group that committed in this log.
 */
export function deletableUpTo(topic: string, partitions: number, upTo: readonly TopicPartitionOffset[], groups: readonly ReadonlyMap<number, number>[]): number[] {
  return Array.from({ length: partitions }, (_, partition) => {
    let limit = upTo.find((o) => o.topic === topic && o.partition === partition)?.offset ?? 0
    for (const g of groups) limit = Math.min(limit, g.get(partition) ?? 0)
    return Math.max(0, limit)
  })
}

/** Topic names used by Tessera. */
export const TOPICS = {
  raw: 'events.raw',
  resolved: 'events.resolved',
  deadLetter: 'events.dead-letter',
} as const
