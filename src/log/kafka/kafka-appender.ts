/**
 * @module Appends records to Kafka: Tessera's own partitioning, acks from every in-sync replica, a bounded budget of
 * bytes in flight, and backpressure (TESSERA_BACKPRESSURE) instead of unbounded buffering while Kafka is unavailable.
 */
import { Buffer } from 'node:buffer'
import { TesseraError } from '../../core/errors.js'
import { partitionFor } from '../../core/hash.js'
import type { AppendRecord, AppendResult, TopicPartitionOffset } from '../event-log.js'
import type { KafkaOutgoingMessage, KafkaProducer } from './kafka-client.js'
import { toTesseraError } from './kafka-errors.js'

export interface KafkaAppenderOptions {
  /** Most bytes (keys + values) of appends not acknowledged yet; appends beyond it are refused with backpressure. */
  readonly maxPendingBytes: number
  /** An append not acknowledged within this time is refused with backpressure (Kafka slow or down). */
  readonly appendTimeoutMs: number
  /** Timeout the leader gets to collect the acks of its in-sync replicas. */
  readonly requestTimeoutMs: number
  readonly retryAfterSeconds: number
}

export class KafkaAppender {
  readonly #producer: KafkaProducer
  readonly #options: KafkaAppenderOptions
  readonly #partitionCount: (topic: string) => Promise<number>
  #pendingBytes = 0
  #roundRobin = 0

  constructor(producer: KafkaProducer, partitionCount: (topic: string) => Promise<number>, options: KafkaAppenderOptions) {
    this.#producer = producer
    this.#partitionCount = partitionCount
    this.#options = Object.freeze({ ...options })
  }

  /** Bytes of appends sent and not acknowledged yet (including appends whose caller already got a timeout). */
  get pendingBytes(): number {
    return this.#pendingBytes
  }

  async append(topic: string, records: readonly AppendRecord[]): Promise<AppendResult> {
    const count = await this.#partitionCount(topic)
    if (records.length === 0) return { positions: [] }
    const bytes = records.reduce((sum, r) => sum + Buffer.byteLength(r.value) + (r.key === null ? 0 : Buffer.byteLength(r.key)), 0)
    // A single append larger than the whole budget still goes through when nothing else is in flight.
    if (this.#pendingBytes > 0 && this.#pendingBytes + bytes > this.#options.maxPendingBytes) {
      throw new TesseraError('TESSERA_BACKPRESSURE',
        `Kafka has ${this.#pendingBytes} bytes of appends in flight (limit ${this.#options.maxPendingBytes})`,
        { retryAfterSeconds: this.#options.retryAfterSeconds })
    }
    const now = String(Date.now())
    // The same partition function as the other adapters, so a key lands on the same partition number everywhere.
    const messages: KafkaOutgoingMessage[] = records.map((r) => ({
      key: r.key,
      value: r.value,
      partition: partitionFor(r.key, count, this.#roundRobin++),
      timestamp: r.timestamp === undefined ? now : String(r.timestamp),
    }))
    this.#pendingBytes += bytes
    const sent = this.#producer.send({ topic, acks: -1, timeout: this.#options.requestTimeoutMs, messages })
    // The bytes stay counted until Kafka answers, even when the caller stopped waiting: that is what bounds memory.
    void sent.then(() => undefined, () => undefined).finally(() => {
      this.#pendingBytes -= bytes
    })
    let timer: NodeJS.Timeout | undefined
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new TesseraError('TESSERA_BACKPRESSURE',
        `Kafka did not acknowledge an append to ${topic} within ${this.#options.appendTimeoutMs} ms`,
        { retryAfterSeconds: this.#options.retryAfterSeconds })), this.#options.appendTimeoutMs)
    })
    try {
      const results = await Promise.race([sent, timeout])
      return { positions: positionsOf(topic, messages, results) }
    } catch (error) {
      throw toTesseraError(error, 'append to', topic, this.#options.retryAfterSeconds)
    } finally {
      clearTimeout(timer)
    }
  }
}

/**
 * Kafka answers with the base offset of each partition's record batch; the records of one partition are consecutive
 * in that batch, in input order, so the n-th record of a partition got `baseOffset + n`.
 */
function positionsOf(
  topic: string, messages: readonly KafkaOutgoingMessage[], results: readonly { partition: number; baseOffset?: string }[],
): TopicPartitionOffset[] {
  const next = new Map<number, number>()
  for (const r of results) {
    if (r.baseOffset === undefined) throw new TesseraError('TESSERA_LOG_UNAVAILABLE', `Kafka returned no offset for ${topic}/${r.partition}`)
    next.set(r.partition, Number(r.baseOffset))
  }
  return messages.map(({ partition }) => {
    const offset = next.get(partition)
    if (offset === undefined) throw new TesseraError('TESSERA_LOG_UNAVAILABLE', `Kafka did not acknowledge ${topic}/${partition}`)
    next.set(partition, offset + 1)
    return { topic, partition, offset }
  })
}
