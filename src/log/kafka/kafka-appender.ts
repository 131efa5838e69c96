/**
 * @module Appends records to Kafka: Tessera's own partitioning, acks from every in-sync replica, a bounded budget of
 * bytes in flight, and backpressure (TESSERA_BACKPRESSURE) instead of unbounded buffering while Kafka is unavailable.
 *
 * Group commit (Kafka's `linger.ms`, decided by load instead of a timer): appends to a topic that arrive while
 * {@link MAX_SENDS_IN_FLIGHT} produce requests are outstanding, or within the same event-loop turn, go out together
 * in one request. Concurrent HTTP batches then share one record batch per partition, which is what lets consumers
 * fetch many events at once (and what librdkafka's mock cluster, which returns one record batch per fetch, needs).
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

/** Produce requests per topic awaiting their acks before further appends wait to be grouped into the next one. */
const MAX_SENDS_IN_FLIGHT = 2
/**
 * Longest an append waits for a free slot: requests stuck in Kafka's retries (a broker just came back) must not hold
 * new appends behind them until they time out.
 */
const MAX_LINGER_MS = 20

interface Waiting {
  readonly messages: readonly KafkaOutgoingMessage[]
  readonly bytes: number
  resolve(positions: readonly TopicPartitionOffset[]): void
  reject(error: unknown): void
}

interface TopicQueue {
  waiting: Waiting[]
  inFlight: number
  scheduled: boolean
  /** Sends the waiting appends after MAX_LINGER_MS even when no slot came free. */
  linger: NodeJS.Timeout | undefined
}

export class KafkaAppender {
  readonly #producer: KafkaProducer
  readonly #options: KafkaAppenderOptions
  readonly #partitionCount: (topic: string) => Promise<number>
  readonly #queues = new Map<string, TopicQueue>()
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
      partition: partitionFor(r.partitionKey === undefined ? r.key : r.partitionKey, count, this.#roundRobin++),
      timestamp: r.timestamp === undefined ? now : String(r.timestamp),
    }))
    this.#pendingBytes += bytes
    // The bytes stay counted until Kafka answers, even when the caller stopped waiting: that is what bounds memory.
    const sent = new Promise<readonly TopicPartitionOffset[]>((resolve, reject) => {
      this.#enqueue(topic, { messages, bytes, resolve, reject })
    })
    void sent.catch(() => undefined) // a caller that gave up (timeout below) no longer listens
    let timer: NodeJS.Timeout | undefined
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new TesseraError('TESSERA_BACKPRESSURE',
        `Kafka did not acknowledge an append to ${topic} within ${this.#options.appendTimeoutMs} ms`,
        { retryAfterSeconds: this.#options.retryAfterSeconds })), this.#options.appendTimeoutMs)
    })
    try {
      return { positions: [...(await Promise.race([sent, timeout]))] }
    } catch (error) {
      throw toTesseraError(error, 'append to', topic, this.#options.retryAfterSeconds)
    } finally {
      clearTimeout(timer)
    }
  }

  #enqueue(topic: string, waiting: Waiting): void {
    let queue = this.#queues.get(topic)
    if (queue === undefined) {
      queue = { waiting: [], inFlight: 0, scheduled: false, linger: undefined }
      this.#queues.set(topic, queue)
    }
    queue.waiting.push(waiting)
    this.#schedule(topic, queue)
  }

  /**
   * Sends the waiting appends at the end of this event-loop turn, or, while enough requests are in flight already,
   * when one of them is answered or MAX_LINGER_MS have passed, whichever comes first.
   */
  #schedule(topic: string, queue: TopicQueue): void {
    if (queue.scheduled || queue.waiting.length === 0) return
    if (queue.inFlight >= MAX_SENDS_IN_FLIGHT) {
      queue.linger ??= setTimeout(() => {
        queue.linger = undefined
        this.#send(topic, queue)
      }, MAX_LINGER_MS)
      return
    }
    queue.scheduled = true
    setImmediate(() => {
      queue.scheduled = false
      this.#send(topic, queue)
    })
  }

  #send(topic: string, queue: TopicQueue): void {
    clearTimeout(queue.linger)
    queue.linger = undefined
    const group = queue.waiting
    if (group.length === 0) return
    queue.waiting = []
    queue.inFlight++
    const messages = group.flatMap((w) => w.messages)
    const bytes = group.reduce((sum, w) => sum + w.bytes, 0)
    this.#producer.send({ topic, acks: -1, timeout: this.#options.requestTimeoutMs, messages })
      .then((results) => {
        // Positions in input order for the whole request, then each caller's slice of them.
        const positions = positionsOf(topic, messages, results)
        let at = 0
        for (const w of group) {
          w.resolve(positions.slice(at, at + w.messages.length))
          at += w.messages.length
        }
      })
      .catch((error: unknown) => {
        for (const w of group) w.reject(error)
      })
      .finally(() => {
        this.#pendingBytes -= bytes
        queue.inFlight--
        this.#schedule(topic, queue)
      })
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
