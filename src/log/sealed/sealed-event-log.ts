/**
 * @module The sealing EventLog decorator: wraps any adapter (embedded, Kafka, memory) so that what the log stores
 * is encrypted per subject (record-seal.ts) and readers get the clear record back. A record whose data key was
 * shredded comes back marked `shredded` (empty value, pseudonym key) instead of failing the reader; records
 * written before encryption was on read as they are. With `seal: false` (encryption turned off) new records are
 * stored plain and sealed ones still open while the keyring exists.
 */
import { TesseraError } from '../../core/errors.js'
import type { DataKey, Keyring } from '../../governance/crypto/keyring.js'
import type {
  AppendRecord, AppendResult, BatchHandler, ConsumerOptions, DeleteRecordsResult, EventLog, LogConsumer, LogRecord,
  TopicPartitionOffset, TopicSettings,
} from '../event-log.js'
import { isSealed, openValue, sealValue, sealedKeyId } from './record-seal.js'

export interface SealedEventLogOptions {
  /** The keyring; null when encryption was never on here (then a sealed record is an error saying so). */
  readonly keyring: Keyring | null
  /** Seal new records (governance.encryption.enabled). */
  readonly seal: boolean
  /** Called when the log closes (closes a keyring the log opened for itself). */
  readonly onClose?: () => Promise<void>
}

export class SealedEventLog implements EventLog {
  readonly #inner: EventLog
  readonly #o: SealedEventLogOptions
  readonly kind: string

  constructor(inner: EventLog, options: SealedEventLogOptions) {
    if (options.seal && options.keyring === null) throw new Error('sealing needs a keyring')
    this.#inner = inner
    this.#o = options
    this.kind = inner.kind
  }

  ensureTopic(topic: string, partitions: number, settings?: TopicSettings): Promise<void> {
    return this.#inner.ensureTopic(topic, partitions, settings)
  }

  partitions(topic: string): Promise<number> {
    return this.#inner.partitions(topic)
  }

  async append(topic: string, records: readonly AppendRecord[]): Promise<AppendResult> {
    if (!this.#o.seal || records.length === 0) return this.#inner.append(topic, records)
    let keys: Awaited<ReturnType<Keyring['keysFor']>>
    try {
      keys = await this.#o.keyring!.keysFor(records.map((r) => r.key ?? ''))
    } catch (error) {
      // The key store is down (a lost connection): nothing was appended, the caller may retry (ingest: 503 + Retry-After).
      if (error instanceof TesseraError && error.code === 'TESSERA_STORE' && error.retryAfterSeconds === undefined) {
        throw new TesseraError('TESSERA_STORE', `cannot seal records for ${topic} now: ${error.message}`, { cause: error, retryAfterSeconds: 1 })
      }
      throw error
    }
    return this.#inner.append(topic, records.map((r, i) => {
      const key = keys[i]!
      return {
        key: key.ref, value: sealValue(key, r.key, r.value), partitionKey: r.partitionKey === undefined ? r.key : r.partitionKey,
        ...(r.timestamp === undefined ? {} : { timestamp: r.timestamp }),
      }
    }))
  }

  async read(topic: string, partition: number, offset: number, limit: number): Promise<readonly LogRecord[]> {
    return this.#openAll(await this.#inner.read(topic, partition, offset, limit))
  }

  endOffsets(topic: string): Promise<readonly TopicPartitionOffset[]> {
    return this.#inner.endOffsets(topic)
  }

  startOffsets(topic: string): Promise<readonly TopicPartitionOffset[]> {
    return this.#inner.startOffsets(topic)
  }

  deleteRecordsBefore(topic: string, before: number, upTo: readonly TopicPartitionOffset[], dryRun: boolean): Promise<DeleteRecordsResult> {
    return this.#inner.deleteRecordsBefore(topic, before, upTo, dryRun)
  }

  offsetsForTime(topic: string, timestamp: number): Promise<readonly TopicPartitionOffset[]> {
    return this.#inner.offsetsForTime(topic, timestamp)
  }

  committedOffsets(group: string, topic: string): Promise<readonly TopicPartitionOffset[]> {
    return this.#inner.committedOffsets(group, topic)
  }

  createConsumer(options: ConsumerOptions): LogConsumer {
    const inner = this.#inner.createConsumer(options)
    return {
      run: (handler: BatchHandler) => inner.run(async (batch) => handler({ topic: batch.topic, records: await this.#openAll(batch.records) })),
      commit: (offsets) => inner.commit(offsets),
      stop: () => inner.stop(),
    }
  }

  async close(): Promise<void> {
    try {
      await this.#inner.close()
    } finally {
      await this.#o.onClose?.()
    }
  }

  /** Opens a batch: one key lookup for all its sealed records (Keyring.keysByRef), then each record. */
  async #openAll(records: readonly LogRecord[]): Promise<LogRecord[]> {
    const out: LogRecord[] = new Array(records.length)
    const sealed: number[] = []
    const wanted: { ref: string; keyId: string }[] = []
    for (let i = 0; i < records.length; i++) {
      const record = records[i]!
      if (!isSealed(record.value)) {
        out[i] = record
        continue
      }
      if (this.#o.keyring === null) {
        throw new TesseraError('TESSERA_CONFIG', `${record.topic} holds sealed records but this Tessera has no keyring: turn governance.encryption.enabled on ` +
          '(or restore master.key and keys.db) so that they can be read', { field: 'governance.encryption.enabled' })
      }
      if (record.key === null) throw new Error(`a sealed record of ${record.topic} (partition ${record.partition}, offset ${record.offset}) has no key`)
      sealed.push(i)
      wanted.push({ ref: record.key, keyId: sealedKeyId(record.value) })
    }
    if (sealed.length === 0) return out
    const keys = await this.#o.keyring!.keysByRef(wanted)
    for (let j = 0; j < sealed.length; j++) out[sealed[j]!] = this.#open(records[sealed[j]!]!, keys[j]!)
    return out
  }

  #open(record: LogRecord, key: DataKey | null): LogRecord {
    if (key === null) return { topic: record.topic, partition: record.partition, offset: record.offset, key: record.key, value: '', timestamp: record.timestamp, shredded: true }
    let clear: { key: string | null; value: string }
    try {
      clear = openValue(key, record.value)
    } catch (cause) {
      throw new Error(`the sealed record of ${record.topic} at partition ${record.partition}, offset ${record.offset} does not open: ${(cause as Error).message}`, { cause })
    }
    return { topic: record.topic, partition: record.partition, offset: record.offset, key: clear.key, value: clear.value, timestamp: record.timestamp }
  }
}
