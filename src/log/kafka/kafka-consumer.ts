/**
 * @module A consumer-group member on Kafka: batches handed over one at a time, start offsets chosen by `onAssign`
 * (Tessera stores its offsets with its state), group commits only as information and fallback.
 *
 * Rebalances (kafkajs uses the eager protocol: every member gives up all its partitions, then gets a new set):
 * - Assignment, revocation and batches run one after the other on a single queue, so `onRevoke` is called after the
 *   batch in flight finished, and `onAssign` of the next generation before any batch of it is handed over.
 * - A batch whose assignment went stale during a rebalance is not continued, and `commit()` only commits partitions
 *   this member owns at that moment: a partition that moved is committed by its new owner only, never twice.
 * - Records that were in flight during a rebalance are delivered again to the new owner (at-least-once). That is
 *   harmless because the pipeline stores its offsets in the same transaction as its state and returns them from
 *   `onAssign`: the new owner starts after the last record whose effects were stored, so nothing is applied twice.
 */
import type {
  BatchHandler, ConsumerOptions, LogConsumer, LogRecord, TopicPartition, TopicPartitionOffset,
} from '../event-log.js'
import type { KafkaClient, KafkaConsumer, KafkaEachBatchPayload } from './kafka-client.js'
import { toLogRecord } from './kafka-reader.js'

export interface KafkaConsumerTimings {
  /** The group drops a member that has not sent a heartbeat for this long. */
  readonly sessionTimeoutMs: number
  /** How long the group waits for members to rejoin during a rebalance. */
  readonly rebalanceTimeoutMs: number
  readonly heartbeatIntervalMs: number
}

const DEFAULT_MAX_BATCH_RECORDS = 1000
const DEFAULT_MAX_WAIT_MS = 100

export class KafkaLogConsumer implements LogConsumer {
  readonly #client: KafkaClient
  readonly #options: ConsumerOptions
  readonly #timings: KafkaConsumerTimings
  readonly #onEnd: (consumer: KafkaLogConsumer) => void
  #consumer: KafkaConsumer | undefined
  #running: Promise<void> | undefined
  #ending: Promise<void> | undefined
  /** Serializes assignment, revocation and batches. */
  #queue: Promise<void> = Promise.resolve()
  #assigned: readonly TopicPartition[] = []
  /** Start offsets from `onAssign` that the partition's first delivered batch must begin at. */
  readonly #starts = new Map<number, number>()
  #stopping = false
  #failure: { readonly error: unknown } | undefined
  #settle!: { resolve: () => void; reject: (error: unknown) => void }

  constructor(client: KafkaClient, options: ConsumerOptions, timings: KafkaConsumerTimings, onEnd: (c: KafkaLogConsumer) => void) {
    this.#client = client
    this.#options = Object.freeze({ ...options })
    this.#timings = timings
    this.#onEnd = onEnd
  }

  run(handler: BatchHandler): Promise<void> {
    this.#running ??= new Promise<void>((resolve, reject) => {
      this.#settle = { resolve, reject }
      this.#start(handler).catch((error: unknown) => this.#fail(error))
    })
    return this.#running
  }

  async commit(offsets: readonly TopicPartitionOffset[]): Promise<void> {
    const consumer = this.#consumer
    if (consumer === undefined) throw new Error('KafkaLogConsumer.commit needs run() to have started: Kafka commits as a group member')
    // A partition that was revoked is committed by its new owner; committing it here too could move it backwards.
    const owned = offsets.filter((o) => o.topic === this.#options.topic &&
      this.#assigned.some((a) => a.partition === o.partition))
    if (owned.length === 0) return
    await consumer.commitOffsets(owned.map((o) => ({ topic: o.topic, partition: o.partition, offset: String(o.offset) })))
  }

  async stop(): Promise<void> {
    this.#stopping = true
    if (this.#running === undefined) return
    await this.#end()
    await this.#running.catch(() => undefined)
  }

  async #start(handler: BatchHandler): Promise<void> {
    const { group, topic } = this.#options
    const consumer = this.#client.consumer({
      groupId: group,
      maxWaitTimeInMs: this.#options.maxWaitMs ?? DEFAULT_MAX_WAIT_MS,
      sessionTimeout: this.#timings.sessionTimeoutMs,
      rebalanceTimeout: this.#timings.rebalanceTimeoutMs,
      heartbeatInterval: this.#timings.heartbeatIntervalMs,
    })
    this.#consumer = consumer
    consumer.onGroupJoin((assignment) => {
      const partitions = [...(assignment[topic] ?? [])].sort((a, b) => a - b).map((partition) => ({ topic, partition }))
      void this.#enqueue(async () => {
        await this.#revokeAll()
        this.#assigned = partitions
        this.#starts.clear()
        for (const o of (await this.#options.onAssign?.(partitions)) ?? []) {
          if (o.topic === topic && partitions.some((p) => p.partition === o.partition)) this.#starts.set(o.partition, o.offset)
        }
      })
    })
    consumer.onRebalancing(() => this.#enqueue(() => this.#revokeAll()))
    consumer.onCrash((error, restart) => {
      // kafkajs restarts after transient failures (broker down) by itself; only a final crash ends run().
      if (!restart) this.#fail(error)
    })
    await consumer.connect()
    await consumer.subscribe({ topics: [topic], fromBeginning: true })
    await consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      partitionsConsumedConcurrently: 1,
      eachBatch: (payload) => this.#enqueue(() => this.#deliver(payload, handler)),
    })
    if (this.#stopping) void this.#end()
  }

  async #deliver(payload: KafkaEachBatchPayload, handler: BatchHandler): Promise<void> {
    const { batch } = payload
    const { topic } = this.#options
    if (this.#halted(payload) || !this.#assigned.some((a) => a.partition === batch.partition)) return
    const records = batch.messages.map((m) => toLogRecord(topic, batch.partition, m))
    if (records.length === 0) return
    const start = this.#starts.get(batch.partition)
    if (start !== undefined) {
      if (records[0]!.offset < start) {
        // The fetch began at the group's committed offset; the consumer's own state says to start later.
        this.#consumer?.seek({ topic, partition: batch.partition, offset: String(start) })
        return
      }
      this.#starts.delete(batch.partition)
    }
    const max = this.#options.maxBatchRecords ?? DEFAULT_MAX_BATCH_RECORDS
    for (let i = 0; i < records.length; i += max) {
      if (this.#halted(payload)) return
      const chunk: LogRecord[] = records.slice(i, i + max)
      try {
        await handler({ topic, records: chunk })
      } catch (error) {
        // Not resolved, not committed: the chunk is delivered again to whoever consumes the partition next.
        this.#fail(error)
        return
      }
      payload.resolveOffset(String(chunk[chunk.length - 1]!.offset))
      await payload.heartbeat()
    }
  }

  #halted(payload: KafkaEachBatchPayload): boolean {
    return this.#stopping || this.#failure !== undefined || !payload.isRunning() || payload.isStale()
  }

  async #revokeAll(): Promise<void> {
    const revoked = this.#assigned
    if (revoked.length === 0) return
    this.#assigned = []
    this.#starts.clear()
    await this.#options.onRevoke?.(revoked)
  }

  #enqueue(task: () => Promise<void>): Promise<void> {
    const next = this.#queue.then(task)
    this.#queue = next.catch((error: unknown) => this.#fail(error))
    return next.catch(() => undefined)
  }

  #fail(error: unknown): void {
    this.#failure ??= { error }
    void this.#end()
  }

  /** Leaves the group (after the batch in flight), calls onRevoke, then settles run(). Runs once. */
  #end(): Promise<void> {
    this.#ending ??= (async () => {
      this.#stopping = true
      try {
        await this.#consumer?.disconnect()
      } catch (error) {
        this.#failure ??= { error }
      }
      await this.#enqueue(() => this.#revokeAll())
      this.#onEnd(this)
      if (this.#failure === undefined) this.#settle.resolve()
      else this.#settle.reject(this.#failure.error)
    })()
    return this.#ending
  }
}
