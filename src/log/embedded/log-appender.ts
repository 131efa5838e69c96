/**
 * @module The write side of the embedded log: picks each record's partition, assigns offsets in memory and writes
 * a group of append calls in one transaction. Only the connection holding the appender lock has one, which is
 * what makes in-memory offsets safe: nobody else adds records to the file.
 */
import { TesseraError, ValidationError } from '../../core/errors.js'
import { partitionFor } from '../../core/hash.js'
import type { AppendRecord, TopicPartitionOffset } from '../event-log.js'
import type { LogStore } from './log-store.js'

/** One accepted `append` call waiting for its group to be written. */
export interface AppendCall {
  readonly topic: string
  readonly records: readonly AppendRecord[]
  /** Timestamp for records that bring none: the time the call was accepted. */
  readonly acceptedAt: number
}

/** Where a topic's partitions stand: next offset and highest timestamp so far (`-Infinity` when empty). */
interface TopicState {
  readonly next: number[]
  readonly maxTs: number[]
}

/** One topic's share of a group while it is being assembled. */
interface TopicGroup {
  readonly state: TopicState
  /** Flat `topic, partition, offset, key, value, ts` values per partition, so each partition is inserted in one run. */
  readonly rows: (string | number | null)[][]
  readonly firstOffset: number[]
  readonly groupMaxTs: number[]
}

/** Partition choice, offset assignment and the group write of the appender connection. */
export class LogAppender {
  readonly #store: LogStore
  /** State of every topic appended to so far (loaded from the file on first use). */
  readonly #topics = new Map<string, TopicState>()
  /** Spreads records without a key over the partitions (Kafka's round-robin partitioner). */
  #roundRobin = 0

  constructor(store: LogStore) {
    this.#store = store
  }

  /**
   * Checks a call before it is accepted, so that one bad call cannot fail the whole group it would join:
   * the topic must exist and every record must be well-typed.
   * @throws TesseraError `TESSERA_NOT_FOUND` for an unknown topic, ValidationError for a malformed record.
   */
  check(topic: string, records: readonly AppendRecord[]): void {
    this.#state(topic)
    for (let i = 0; i < records.length; i++) {
      const r = records[i]!
      if (typeof r.value !== 'string') throw new ValidationError(`records[${i}].value`, 'must be a string')
      if (r.key !== null && typeof r.key !== 'string') throw new ValidationError(`records[${i}].key`, 'must be a string or null')
      if (r.timestamp !== undefined && !Number.isFinite(r.timestamp)) {
        throw new ValidationError(`records[${i}].timestamp`, 'must be a finite number of milliseconds')
      }
    }
  }

  /**
   * Writes all calls in one transaction and returns each call's positions, in call order. If the transaction
   * fails, nothing was written and the in-memory offsets are left as they were, so no gap appears.
   */
  writeGroup(calls: readonly AppendCall[]): TopicPartitionOffset[][] {
    // Offsets and maxima are advanced on copies and published only after COMMIT.
    const groups = new Map<string, TopicGroup>()
    const results: TopicPartitionOffset[][] = []
    for (const { topic, records, acceptedAt } of calls) {
      let group = groups.get(topic)
      if (group === undefined) {
        const state = this.#state(topic)
        const n = state.next.length
        group = {
          state: { next: [...state.next], maxTs: [...state.maxTs] },
          rows: Array.from({ length: n }, () => []),
          firstOffset: [...state.next],
          groupMaxTs: new Array<number>(n).fill(Number.NEGATIVE_INFINITY),
        }
        groups.set(topic, group)
      }
      const { next } = group.state
      const positions: TopicPartitionOffset[] = new Array(records.length)
      for (let i = 0; i < records.length; i++) {
        const r = records[i]!
        const partition = partitionFor(r.partitionKey === undefined ? r.key : r.partitionKey, next.length, this.#roundRobin++)
        const offset = next[partition]!++
        // Timestamps are stored as integer milliseconds (the column is STRICT INTEGER).
        const ts = Math.trunc(r.timestamp ?? acceptedAt)
        group.rows[partition]!.push(topic, partition, offset, r.key, r.value, ts)
        if (ts > group.groupMaxTs[partition]!) group.groupMaxTs[partition] = ts
        positions[i] = { topic, partition, offset }
      }
      results.push(positions)
    }
    this.#store.transaction(() => {
      for (const [topic, group] of groups) this.#insert(topic, group)
    })
    for (const [topic, group] of groups) this.#topics.set(topic, group.state)
    return results
  }

  #insert(topic: string, group: TopicGroup): void {
    const { rows, firstOffset, groupMaxTs, state } = group
    // Inserting partition by partition keeps each B-tree insertion next to the previous one.
    for (const values of rows) if (values.length > 0) this.#store.insertRecords(values)
    for (let partition = 0; partition < rows.length; partition++) {
      const max = groupMaxTs[partition]!
      if (max > state.maxTs[partition]!) {
        this.#store.insertTimeIndex(topic, partition, max, firstOffset[partition]!)
        state.maxTs[partition] = max
      }
    }
  }

  #state(topic: string): TopicState {
    let state = this.#topics.get(topic)
    if (state === undefined) {
      const partitions = this.#store.topicPartitions(topic)
      if (partitions === undefined) {
        throw new TesseraError('TESSERA_NOT_FOUND', `topic ${topic} does not exist; call ensureTopic first`)
      }
      const all = Array.from({ length: partitions }, (_, partition) => partition)
      state = {
        next: all.map((partition) => this.#store.endOffset(topic, partition)),
        maxTs: all.map((partition) => this.#store.maxTimestamp(topic, partition) ?? Number.NEGATIVE_INFINITY),
      }
      this.#topics.set(topic, state)
    }
    return state
  }
}
