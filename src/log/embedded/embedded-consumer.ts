/**
 * @module The consumer of the embedded log. In embedded mode a group has one active member per topic, which gets
 * every partition: there is nobody to rebalance with, so assignment happens once, when `run` starts.
 */
import type {
  BatchHandler, ConsumerOptions, LogConsumer, LogRecord, TopicPartition, TopicPartitionOffset,
} from '../event-log.js'

export const DEFAULT_MAX_BATCH_RECORDS = 1000
export const DEFAULT_MAX_WAIT_MS = 100

/** What a consumer needs from its log (the log's connection, its wake-ups and its membership registry). */
export interface ConsumerSource {
  /** True once the log is closing: the consumer finishes its batch and ends. */
  isClosing(): boolean
  partitions(topic: string): Promise<number>
  committedOffsets(group: string, topic: string): Promise<readonly TopicPartitionOffset[]>
  read(topic: string, partition: number, offset: number, limit: number): Promise<readonly LogRecord[]>
  commit(group: string, offsets: readonly TopicPartitionOffset[]): Promise<void>
  /** Current wake-up generation, to pass to `waitForAppend`. */
  appendGeneration(): number
  /** Resolves on an append after generation `seen`, after `ms`, or on `abort`. */
  waitForAppend(ms: number, abort: AbortSignal, seen: number): Promise<void>
  /**
   * Registers the consumer as the group's member for its topic.
   * @throws TesseraError `TESSERA_LOCKED` if another consumer of this log is already running for that group and topic.
   */
  join(consumer: EmbeddedConsumer): void
  leave(consumer: EmbeddedConsumer): void
}

/**
 * A group member that gets every partition of its topic. Starts each partition at the offset `onAssign` returned,
 * else at the group's committed offset, else at 0, and reads the next batch only after the handler resolved.
 */
export class EmbeddedConsumer implements LogConsumer {
  readonly #source: ConsumerSource
  readonly #options: ConsumerOptions
  readonly #stop = new AbortController()
  #running: Promise<void> | undefined

  constructor(source: ConsumerSource, options: ConsumerOptions) {
    this.#source = source
    this.#options = Object.freeze({ ...options })
  }

  get group(): string {
    return this.#options.group
  }

  get topic(): string {
    return this.#options.topic
  }

  /** Starts delivering; calling it again returns the same run. */
  run(handler: BatchHandler): Promise<void> {
    this.#running ??= this.#run(handler)
    return this.#running
  }

  async commit(offsets: readonly TopicPartitionOffset[]): Promise<void> {
    await this.#source.commit(this.#options.group, offsets)
  }

  async stop(): Promise<void> {
    this.#stop.abort()
    // run()'s caller receives its outcome; stop() only waits for it to be over.
    if (this.#running !== undefined) await Promise.allSettled([this.#running])
  }

  async #run(handler: BatchHandler): Promise<void> {
    this.#source.join(this)
    try {
      await this.#consume(handler)
    } finally {
      this.#source.leave(this)
    }
  }

  async #consume(handler: BatchHandler): Promise<void> {
    const { topic, group } = this.#options
    const count = await this.#source.partitions(topic)
    const assigned: TopicPartition[] = Array.from({ length: count }, (_, partition) => ({ topic, partition }))
    // Start from the group's committed offsets, overridden by whatever the consumer stored with its own state.
    const positions = new Array<number>(count).fill(0)
    for (const c of await this.#source.committedOffsets(group, topic)) positions[c.partition] = c.offset
    const chosen = (await this.#options.onAssign?.(assigned)) ?? []
    for (const o of chosen) {
      if (o.topic === topic && o.partition >= 0 && o.partition < count) positions[o.partition] = o.offset
    }
    try {
      await this.#deliver(handler, positions)
    } finally {
      await this.#options.onRevoke?.(assigned)
    }
  }

  async #deliver(handler: BatchHandler, positions: number[]): Promise<void> {
    const { topic } = this.#options
    const max = this.#options.maxBatchRecords ?? DEFAULT_MAX_BATCH_RECORDS
    const maxWaitMs = this.#options.maxWaitMs ?? DEFAULT_MAX_WAIT_MS
    // The partition read first rotates, so a busy partition cannot starve the others of batch space.
    let first = 0
    while (!this.#stop.signal.aborted && !this.#source.isClosing()) {
      const seen = this.#source.appendGeneration()
      const records: LogRecord[] = []
      for (let i = 0; i < positions.length && records.length < max; i++) {
        const partition = (first + i) % positions.length
        const found = await this.#source.read(topic, partition, positions[partition]!, max - records.length)
        for (const r of found) records.push(r)
      }
      first = (first + 1) % positions.length
      if (records.length === 0) {
        await this.#source.waitForAppend(maxWaitMs, this.#stop.signal, seen)
        continue
      }
      await handler({ topic, records })
      for (const r of records) positions[r.partition] = r.offset + 1
    }
  }
}
