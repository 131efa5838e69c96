/**
 * @module The embedded EventLog: a partitioned, durable log in one SQLite file (better-sqlite3, WAL), for the
 * single-machine mode (`npm start`). It passes the same contract suite as the in-memory and Kafka adapters.
 *
 * Roles of the connections to one file:
 * - exactly one **appender** (the default; it holds the `<path>.lock` appender lock) writes records, assigning
 *   offsets in memory, and coalesces concurrent `append` calls into one transaction per event-loop turn;
 * - any number of **readers** (`readOnly: true`), in other threads or processes, read and consume. A reader is still
 *   a read-write SQLite connection: `ensureTopic` and `LogConsumer.commit` write the topics and committed-offsets
 *   tables, which is safe alongside the appender (SQLite serialises the short write transactions; the busy timeout
 *   covers the wait). Readers never write records, so the appender's in-memory offsets stay right.
 *
 * After each committed group the appender posts on a `BroadcastChannel` named after the file, which wakes idle
 * consumers in every thread of the process at once; consumers in other processes notice by polling every
 * `maxWaitMs`.
 */
import { resolve } from 'node:path'
import Database from 'better-sqlite3'
import { TesseraError } from '../../core/errors.js'
import {
  deletableUpTo,
  type AppendRecord, type AppendResult, type ConsumerOptions, type DeleteRecordsResult, type EventLog, type LogConsumer, type LogRecord,
  type TopicPartitionOffset,
} from '../event-log.js'
import { AppendSignal, appendChannelName } from './append-signal.js'
import { acquireAppenderLock, type AppenderLock } from './appender-lock.js'
import { EmbeddedConsumer, type ConsumerSource } from './embedded-consumer.js'
import { GroupCommitter, type GroupCommitStats } from './group-commit.js'
import { LogAppender } from './log-appender.js'
import { configureLogConnection, type LogSync } from './log-connection.js'
import { migrateLogSchema } from './log-schema.js'
import { LogStore } from './log-store.js'
import type { SqliteDatabase, SqliteOpener } from './sqlite-database.js'
import { toReadError, toWriteError } from './sqlite-errors.js'

/** Records deleted per transaction by log retention. */
export const DELETE_CHUNK_RECORDS = 5000

/** Default wait for another connection's write lock (a consumer committing, a reader creating a topic). */
export const DEFAULT_BUSY_TIMEOUT_MS = 5000

export interface EmbeddedEventLogOptions {
  /** The log file; `<path>-wal`, `<path>-shm` and `<path>.lock` are created next to it. */
  readonly path: string
  /** Durability of a commit; see {@link LogConnectionSettings.sync}. */
  readonly sync: LogSync
  /**
   * Most bytes (UTF-16 code units of record values) accepted but not yet committed. A call that would exceed it is
   * rejected at once with `TESSERA_BACKPRESSURE`, so a stalled disk turns into 429/503 answers, not memory growth.
   */
  readonly maxPendingBytes: number
  /**
   * An already open connection to `path` to use instead of opening one (tests, tuning). The log configures it
   * (WAL, synchronous, busy timeout) and closes it on `close()`; if opening fails, the caller still owns it.
   */
  readonly database?: SqliteDatabase
  /**
   * Open as a reader: no appender lock, `append` rejects, everything else works (including `commit`, which writes
   * the committed-offsets table). Use this in the pipeline's worker thread, next to the appender in the main thread.
   */
  readonly readOnly?: boolean
  /** Wait for another connection's write lock before failing with backpressure; default {@link DEFAULT_BUSY_TIMEOUT_MS}. */
  readonly busyTimeoutMs?: number
}

/** Counters of the embedded log, for metrics and tests. */
export interface EmbeddedEventLogStats extends GroupCommitStats {
  /** Consumers of this connection currently running. */
  readonly runningConsumers: number
}

/**
 * Opens (creating and migrating if needed) the embedded log at `options.path`.
 * @throws TesseraError `TESSERA_LOCKED` if another connection already appends to the file (unless `readOnly`),
 *   `TESSERA_CONFIG` for bad options or a file from a newer Tessera, `TESSERA_LOG_UNAVAILABLE` if it cannot be opened.
 * @example
 * const log = await openEmbeddedEventLog({ path: 'data/log.db', sync: 'full', maxPendingBytes: 64 * 1024 * 1024 })
 * await log.ensureTopic(TOPICS.raw, 8)
 * // in the pipeline worker:
 * const reader = await openEmbeddedEventLog({ path: 'data/log.db', sync: 'full', maxPendingBytes: 0, readOnly: true })
 */
export async function openEmbeddedEventLog(options: EmbeddedEventLogOptions): Promise<EmbeddedEventLog> {
  if (typeof options.path !== 'string' || options.path === '' || options.path === ':memory:') {
    throw new TesseraError('TESSERA_CONFIG', 'the embedded event log needs a file path', { field: 'path' })
  }
  if (!(options.maxPendingBytes >= 0)) {
    throw new TesseraError('TESSERA_CONFIG', `maxPendingBytes must be >= 0, got ${options.maxPendingBytes}`, { field: 'maxPendingBytes' })
  }
  const path = resolve(options.path)
  const open: SqliteOpener = (file) => new Database(file)
  let db: SqliteDatabase
  try {
    db = options.database ?? open(path)
  } catch (error) {
    throw new TesseraError('TESSERA_LOG_UNAVAILABLE', `cannot open event log ${path}`, { cause: error })
  }
  let lock: AppenderLock | undefined
  try {
    configureLogConnection(db, path, { sync: options.sync, busyTimeoutMs: options.busyTimeoutMs ?? DEFAULT_BUSY_TIMEOUT_MS })
    migrateLogSchema(db, path)
    const store = new LogStore(db)
    if (options.readOnly !== true) {
      lock = acquireAppenderLock(path, open, () => {
        const holder = store.appender()
        return holder === undefined ? 'holder unknown' : `process ${holder.pid} since ${new Date(holder.since).toISOString()}`
      })
      store.recordAppender({ pid: process.pid, since: Date.now() })
    }
    return new EmbeddedEventLog(path, db, store, options.maxPendingBytes, lock)
  } catch (error) {
    lock?.release()
    if (options.database === undefined) db.close()
    if (error instanceof TesseraError) throw error
    throw toWriteError(error, `opening event log ${path}`)
  }
}

/**
 * One connection to an embedded log file: the appender, or a reader (see the module comment). Create it with
 * {@link openEmbeddedEventLog}.
 */
export class EmbeddedEventLog implements EventLog {
  readonly kind = 'embedded'
  /** Absolute path of the log file. */
  readonly path: string
  readonly #db: SqliteDatabase
  readonly #store: LogStore
  readonly #lock: AppenderLock | undefined
  readonly #committer: GroupCommitter | undefined
  readonly #appender: LogAppender | undefined
  readonly #signal: AppendSignal
  /** Partition counts never change once a topic exists, so positive lookups are cached. */
  readonly #partitions = new Map<string, number>()
  /** The running member of each group and topic (`group \0 topic`). */
  readonly #members = new Map<string, EmbeddedConsumer>()
  #closing: Promise<void> | undefined
  #closed = false

  /** Use {@link openEmbeddedEventLog}; the constructor takes an opened, migrated connection and (for an appender) its lock. */
  constructor(path: string, db: SqliteDatabase, store: LogStore, maxPendingBytes: number, lock: AppenderLock | undefined) {
    this.path = path
    this.#db = db
    this.#store = store
    this.#lock = lock
    this.#signal = new AppendSignal(appendChannelName(path))
    if (lock !== undefined) {
      const appender = new LogAppender(store)
      this.#appender = appender
      this.#committer = new GroupCommitter((calls) => appender.writeGroup(calls), maxPendingBytes, () => this.#signal.announce())
    }
  }

  /** True for a reader connection (opened with `readOnly: true`). */
  get readOnly(): boolean {
    return this.#lock === undefined
  }

  stats(): EmbeddedEventLogStats {
    const empty: GroupCommitStats = { groupsCommitted: 0, callsCommitted: 0, recordsCommitted: 0, groupsFailed: 0, pendingBytes: 0 }
    return { ...(this.#committer?.stats ?? empty), runningConsumers: this.#members.size }
  }

  async ensureTopic(topic: string, partitions: number): Promise<void> {
    this.#assertOpen()
    if (!Number.isSafeInteger(partitions) || partitions <= 0) {
      throw new TesseraError('TESSERA_VALIDATION', `topic ${topic}: partitions must be a positive integer, got ${partitions}`)
    }
    try {
      this.#store.createTopic(topic, partitions)
    } catch (error) {
      throw toWriteError(error, `ensureTopic ${topic}`)
    }
  }

  async partitions(topic: string): Promise<number> {
    return this.#partitionCount(topic)
  }

  /**
   * Resolves once the records are committed (fsynced with `sync: 'full'`), together with every other call made in
   * the same event-loop turn. See {@link GroupCommitter.submit} for the rejections.
   */
  append(topic: string, records: readonly AppendRecord[]): Promise<AppendResult> {
    if (this.#committer === undefined || this.#appender === undefined) {
      return Promise.reject(new Error(`event log ${this.path} was opened with readOnly: true; append through the appender connection`))
    }
    if (this.#closing !== undefined) {
      return Promise.reject(new TesseraError('TESSERA_LOG_UNAVAILABLE', 'the event log is closed'))
    }
    try {
      this.#appender.check(topic, records)
    } catch (error) {
      return Promise.reject(error as Error)
    }
    if (records.length === 0) return Promise.resolve({ positions: [] })
    return this.#committer.submit(topic, records)
  }

  async read(topic: string, partition: number, offset: number, limit: number): Promise<readonly LogRecord[]> {
    this.#assertPartition(topic, partition)
    // SQLite reads a negative LIMIT as "no limit"; the port means "nothing".
    if (!(limit > 0)) return []
    return this.#reading(`read ${topic}`, () => this.#store.read(topic, partition, Math.max(0, offset), limit))
  }

  async endOffsets(topic: string): Promise<readonly TopicPartitionOffset[]> {
    const count = this.#partitionCount(topic)
    return this.#reading(`endOffsets ${topic}`, () =>
      Array.from({ length: count }, (_, partition) => ({ topic, partition, offset: this.#store.endOffset(topic, partition) })))
  }

  async startOffsets(topic: string): Promise<readonly TopicPartitionOffset[]> {
    const count = this.#partitionCount(topic)
    return this.#reading(`startOffsets ${topic}`, () =>
      Array.from({ length: count }, (_, partition) => ({ topic, partition, offset: this.#store.startOffset(topic, partition) })))
  }

  /**
   * Deletes the expired prefix of each partition (see the port), in transactions of {@link DELETE_CHUNK_RECORDS} so
   * the appender never waits long; works on a reader connection too (it never touches the appender's next offsets,
   * and `log_watermarks` keeps an emptied partition's end).
   */
  async deleteRecordsBefore(topic: string, before: number, upTo: readonly TopicPartitionOffset[], dryRun: boolean): Promise<DeleteRecordsResult> {
    const count = this.#partitionCount(topic)
    const groups = new Map<string, Map<number, number>>()
    for (const c of this.#reading(`committedOffsets of ${topic}`, () => this.#store.allCommitted(topic))) {
      const m = groups.get(c.group) ?? new Map<number, number>()
      m.set(c.partition, c.offset)
      groups.set(c.group, m)
    }
    const limits = deletableUpTo(topic, count, upTo, [...groups.values()])
    let deleted = 0
    const partitions: TopicPartitionOffset[] = []
    for (let partition = 0; partition < count; partition++) {
      const start = this.#reading(`startOffsets ${topic}`, () => this.#store.startOffset(topic, partition))
      const firstKept = this.#reading(`offsetsForTime ${topic}`, () => this.#store.offsetForTime(topic, partition, before) ?? this.#store.endOffset(topic, partition))
      const end = Math.min(firstKept, limits[partition]!)
      if (end <= start) {
        partitions.push({ topic, partition, offset: start })
        continue
      }
      if (dryRun) {
        deleted += this.#reading(`count ${topic}`, () => this.#store.countBefore(topic, partition, end))
      } else {
        for (let from = start; from < end; from += DELETE_CHUNK_RECORDS) {
          this.#assertOpen()
          const to = Math.min(end, from + DELETE_CHUNK_RECORDS)
          try {
            deleted += this.#store.deleteRange(topic, partition, from, to)
          } catch (error) {
            throw toWriteError(error, `log retention of ${topic}`)
          }
          // Let the appender's group commit and the readers in between chunks.
          await new Promise((resolve) => setImmediate(resolve))
        }
      }
      partitions.push({ topic, partition, offset: end })
    }
    return { supported: true, deleted, partitions }
  }

  async offsetsForTime(topic: string, timestamp: number): Promise<readonly TopicPartitionOffset[]> {
    const count = this.#partitionCount(topic)
    return this.#reading(`offsetsForTime ${topic}`, () =>
      Array.from({ length: count }, (_, partition) => ({
        topic,
        partition,
        offset: this.#store.offsetForTime(topic, partition, timestamp) ?? this.#store.endOffset(topic, partition),
      })))
  }

  async committedOffsets(group: string, topic: string): Promise<readonly TopicPartitionOffset[]> {
    return this.#reading(`committedOffsets ${group}`, () => this.#store.committedOffsets(group, topic))
  }

  /** One running member per group and topic on this connection; it gets all partitions. */
  createConsumer(options: ConsumerOptions): LogConsumer {
    return new EmbeddedConsumer(this.#consumerSource, options)
  }

  /**
   * Commits what is pending, stops this connection's consumers (after their in-flight batch), then releases the
   * appender lock and the connection. Idempotent.
   */
  close(): Promise<void> {
    this.#closing ??= this.#close()
    return this.#closing
  }

  async #close(): Promise<void> {
    this.#committer?.flush()
    await Promise.allSettled([...this.#members.values()].map((consumer) => consumer.stop()))
    this.#signal.close()
    this.#closed = true
    this.#lock?.release()
    this.#db.close()
  }

  /** The consumers' view of this log; a plain object so the consumer module does not depend on this class. */
  readonly #consumerSource: ConsumerSource = {
    isClosing: () => this.#closing !== undefined,
    appendGeneration: () => this.#signal.generation,
    partitions: (topic) => this.partitions(topic),
    committedOffsets: (group, topic) => this.committedOffsets(group, topic),
    read: (topic, partition, offset, limit) => this.read(topic, partition, offset, limit),
    commit: async (group, offsets) => {
      this.#assertOpen()
      try {
        this.#store.commitOffsets(group, offsets)
      } catch (error) {
        throw toWriteError(error, `commit offsets of ${group}`)
      }
    },
    waitForAppend: (ms, abort, seen) => this.#signal.wait(ms, abort, seen),
    join: (consumer) => {
      const key = `${consumer.group}\u0000${consumer.topic}`
      const member = this.#members.get(key)
      if (member !== undefined && member !== consumer) {
        throw new TesseraError('TESSERA_LOCKED',
          `group ${consumer.group} already has a running consumer of ${consumer.topic}; the embedded log allows one per group and topic`)
      }
      this.#members.set(key, consumer)
    },
    leave: (consumer) => {
      const key = `${consumer.group}\u0000${consumer.topic}`
      if (this.#members.get(key) === consumer) this.#members.delete(key)
    },
  }

  #partitionCount(topic: string): number {
    let count = this.#partitions.get(topic)
    if (count === undefined) {
      count = this.#reading(`partitions ${topic}`, () => this.#store.topicPartitions(topic))
      if (count === undefined) {
        throw new TesseraError('TESSERA_NOT_FOUND', `topic ${topic} does not exist; call ensureTopic first`)
      }
      this.#partitions.set(topic, count)
    }
    return count
  }

  #assertPartition(topic: string, partition: number): void {
    const count = this.#partitionCount(topic)
    if (!Number.isInteger(partition) || partition < 0 || partition >= count) {
      throw new TesseraError('TESSERA_NOT_FOUND', `topic ${topic} has no partition ${partition}`)
    }
  }

  #reading<T>(what: string, work: () => T): T {
    this.#assertOpen()
    try {
      return work()
    } catch (error) {
      throw toReadError(error, what)
    }
  }

  #assertOpen(): void {
    if (this.#closed) throw new TesseraError('TESSERA_LOG_UNAVAILABLE', 'the event log is closed')
  }
}
