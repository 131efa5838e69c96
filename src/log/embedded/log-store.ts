/**
 * @module All SQL of the embedded log, as prepared statements on one connection. Synchronous (better-sqlite3);
 * the async port methods and the group commit are built on top of it in `embedded-event-log.ts`.
 */
import type { LogRecord, TopicPartitionOffset } from '../event-log.js'
import type { SqliteDatabase, SqliteStatement } from './sqlite-database.js'

/** Rows per multi-row INSERT: binding one statement of many rows is cheaper than stepping many one-row statements. */
export const INSERT_CHUNK_ROWS = 50

const RECORD_COLUMNS = 6

function insertSql(rows: number): string {
  const tuple = `(${Array.from({ length: RECORD_COLUMNS }, () => '?').join(', ')})`
  return `INSERT INTO log_records (topic, partition, offset, key, value, ts) VALUES ${Array.from({ length: rows }, () => tuple).join(', ')}`
}

export interface AppenderInfo {
  readonly pid: number
  /** When the appender took the lock, ms since the epoch. */
  readonly since: number
}

/** The log's prepared statements on one connection. Not safe to share between threads (no connection is). */
export class LogStore {
  readonly #db: SqliteDatabase
  readonly #begin: SqliteStatement
  readonly #commit: SqliteStatement
  readonly #rollback: SqliteStatement
  readonly #insertOne: SqliteStatement
  readonly #insertChunk: SqliteStatement
  readonly #createTopic: SqliteStatement
  readonly #topicPartitions: SqliteStatement
  readonly #maxOffset: SqliteStatement
  readonly #read: SqliteStatement
  readonly #insertTimeIndex: SqliteStatement
  readonly #maxTimestamp: SqliteStatement
  readonly #timeSegment: SqliteStatement
  readonly #firstAtOrAfter: SqliteStatement
  readonly #committed: SqliteStatement
  readonly #upsertCommitted: SqliteStatement
  readonly #setAppender: SqliteStatement
  readonly #appender: SqliteStatement
  readonly #minOffset: SqliteStatement
  readonly #countBefore: SqliteStatement
  readonly #deleteRange: SqliteStatement
  readonly #raiseWatermark: SqliteStatement
  readonly #pruneTimeIndex: SqliteStatement
  readonly #allCommitted: SqliteStatement

  /** Prepares every statement once; the schema must already be migrated. */
  constructor(db: SqliteDatabase) {
    this.#db = db
    // IMMEDIATE takes the write lock up front: a deferred transaction that upgrades from read to write can fail
    // with SQLITE_BUSY_SNAPSHOT in WAL mode without the busy handler ever being called.
    this.#begin = db.prepare('BEGIN IMMEDIATE')
    this.#commit = db.prepare('COMMIT')
    this.#rollback = db.prepare('ROLLBACK')
    this.#insertOne = db.prepare(insertSql(1))
    this.#insertChunk = db.prepare(insertSql(INSERT_CHUNK_ROWS))
    this.#createTopic = db.prepare('INSERT INTO log_topics (name, partitions) VALUES (?, ?) ON CONFLICT (name) DO NOTHING')
    this.#topicPartitions = db.prepare('SELECT partitions FROM log_topics WHERE name = ?')
    // The next offset: after the highest record, or after the last one retention deleted (whichever is later).
    this.#maxOffset = db.prepare(`SELECT max(coalesce((SELECT max(offset) + 1 FROM log_records WHERE topic = ? AND partition = ?), 0),
      coalesce((SELECT next_offset FROM log_watermarks WHERE topic = ? AND partition = ?), 0)) AS next`)
    this.#minOffset = db.prepare('SELECT min(offset) AS offset FROM log_records WHERE topic = ? AND partition = ?')
    this.#countBefore = db.prepare('SELECT count(*) AS n FROM log_records WHERE topic = ? AND partition = ? AND offset < ?')
    this.#deleteRange = db.prepare('DELETE FROM log_records WHERE topic = ? AND partition = ? AND offset >= ? AND offset < ?')
    this.#raiseWatermark = db.prepare(`INSERT INTO log_watermarks (topic, partition, next_offset) VALUES (?, ?, ?)
      ON CONFLICT (topic, partition) DO UPDATE SET next_offset = max(next_offset, excluded.next_offset)`)
    // Time-index rows below the log start: only the last of them is still needed (it may cover the first records kept).
    this.#pruneTimeIndex = db.prepare(`DELETE FROM log_time_index WHERE topic = ? AND partition = ? AND offset < ?
      AND max_ts < (SELECT max(max_ts) FROM log_time_index WHERE topic = ? AND partition = ? AND offset < ?)`)
    this.#allCommitted = db.prepare('SELECT group_id, partition, offset FROM log_committed_offsets WHERE topic = ?')
    this.#read = db.prepare(
      `SELECT topic, partition, offset, key, value, ts AS timestamp FROM log_records
       WHERE topic = ? AND partition = ? AND offset >= ? ORDER BY offset LIMIT ?`)
    this.#insertTimeIndex = db.prepare('INSERT INTO log_time_index (topic, partition, max_ts, offset) VALUES (?, ?, ?, ?)')
    this.#maxTimestamp = db.prepare('SELECT max(max_ts) AS ts FROM log_time_index WHERE topic = ? AND partition = ?')
    this.#timeSegment = db.prepare(
      `SELECT offset FROM log_time_index WHERE topic = ? AND partition = ? AND max_ts >= ?
       ORDER BY max_ts, offset LIMIT 1`)
    this.#firstAtOrAfter = db.prepare(
      `SELECT offset FROM log_records WHERE topic = ? AND partition = ? AND offset >= ? AND ts >= ?
       ORDER BY offset LIMIT 1`)
    this.#committed = db.prepare(
      'SELECT partition, offset FROM log_committed_offsets WHERE group_id = ? AND topic = ? ORDER BY partition')
    this.#upsertCommitted = db.prepare(
      `INSERT INTO log_committed_offsets (group_id, topic, partition, offset) VALUES (?, ?, ?, ?)
       ON CONFLICT (group_id, topic, partition) DO UPDATE SET offset = excluded.offset`)
    this.#setAppender = db.prepare(
      `INSERT INTO log_appender (id, pid, since) VALUES (1, ?, ?)
       ON CONFLICT (id) DO UPDATE SET pid = excluded.pid, since = excluded.since`)
    this.#appender = db.prepare('SELECT pid, since FROM log_appender WHERE id = 1')
  }

  /** Runs `work` in one write transaction: everything it wrote commits, or nothing does. */
  transaction<T>(work: () => T): T {
    this.#begin.run([])
    try {
      const result = work()
      this.#commit.run([])
      return result
    } catch (error) {
      // SQLite rolls back by itself after some errors (SQLITE_FULL, IOERR, BUSY); only roll back what is still open.
      if (this.#db.inTransaction) this.#rollback.run([])
      throw error
    }
  }

  /**
   * Inserts records given as a flat array of `topic, partition, offset, key, value, ts` values, six per record.
   * Must run inside {@link transaction}.
   */
  insertRecords(values: readonly (string | number | null)[]): void {
    const chunk = INSERT_CHUNK_ROWS * RECORD_COLUMNS
    let i = 0
    for (; i + chunk <= values.length; i += chunk) this.#insertChunk.run(values.slice(i, i + chunk))
    for (; i < values.length; i += RECORD_COLUMNS) this.#insertOne.run(values.slice(i, i + RECORD_COLUMNS))
  }

  /** Creates the topic unless it exists (an existing topic keeps its partition count). */
  createTopic(name: string, partitions: number): void {
    this.#createTopic.run([name, partitions])
  }

  /** The topic's partition count, or `undefined` if it does not exist. */
  topicPartitions(name: string): number | undefined {
    const row = this.#topicPartitions.get([name]) as { partitions: number } | undefined
    return row?.partitions
  }

  /** Offset the next record of the partition gets (highest stored offset + 1, or after the last deleted one, or 0). */
  endOffset(topic: string, partition: number): number {
    const row = this.#maxOffset.get([topic, partition, topic, partition]) as { next: number }
    return row.next
  }

  /** First stored offset of the partition, or its end offset when it is empty. */
  startOffset(topic: string, partition: number): number {
    const row = this.#minOffset.get([topic, partition]) as { offset: number | null }
    return row.offset ?? this.endOffset(topic, partition)
  }

  /** Records of the partition below `end`. */
  countBefore(topic: string, partition: number, end: number): number {
    return (this.#countBefore.get([topic, partition, end]) as { n: number }).n
  }

  /**
   * Deletes the partition's records from `from` up to `end` (exclusive) in one transaction, remembers that offsets up
   * to `end` were used, and drops the time-index rows no longer needed. Returns how many were deleted.
   */
  deleteRange(topic: string, partition: number, from: number, end: number): number {
    return this.transaction(() => {
      const n = this.#deleteRange.run([topic, partition, from, end]).changes
      this.#raiseWatermark.run([topic, partition, end])
      this.#pruneTimeIndex.run([topic, partition, end, topic, partition, end])
      return n
    })
  }

  /** Every group's committed offsets on the topic. */
  allCommitted(topic: string): { group: string; partition: number; offset: number }[] {
    return (this.#allCommitted.all([topic]) as { group_id: string; partition: number; offset: number }[]).map((r) => ({ group: r.group_id, partition: r.partition, offset: r.offset }))
  }

  read(topic: string, partition: number, offset: number, limit: number): LogRecord[] {
    // The column aliases match LogRecord, so rows are returned as they come, without copying.
    return this.#read.all([topic, partition, offset, limit]) as LogRecord[]
  }

  /**
   * Records that a group raised the partition's highest timestamp to `maxTs`, starting at `offset`.
   * Must run inside {@link transaction}, with the records.
   */
  insertTimeIndex(topic: string, partition: number, maxTs: number, offset: number): void {
    this.#insertTimeIndex.run([topic, partition, maxTs, offset])
  }

  /** Highest record timestamp of the partition, or `undefined` if it is empty. */
  maxTimestamp(topic: string, partition: number): number | undefined {
    const row = this.#maxTimestamp.get([topic, partition]) as { ts: number | null }
    return row.ts ?? undefined
  }

  /** First offset of the partition whose record timestamp is >= `timestamp`, or `undefined` if there is none. */
  offsetForTime(topic: string, partition: number, timestamp: number): number | undefined {
    // Two seeks: the time index names the group where the maximum first reached `timestamp` (every record before
    // it is older), then that group is scanned in offset order.
    const segment = this.#timeSegment.get([topic, partition, timestamp]) as { offset: number } | undefined
    if (segment === undefined) return undefined
    const row = this.#firstAtOrAfter.get([topic, partition, segment.offset, timestamp]) as { offset: number } | undefined
    return row?.offset
  }

  committedOffsets(group: string, topic: string): TopicPartitionOffset[] {
    const rows = this.#committed.all([group, topic]) as { partition: number; offset: number }[]
    return rows.map((row) => ({ topic, partition: row.partition, offset: row.offset }))
  }

  /** Stores the group's offsets in one transaction. */
  commitOffsets(group: string, offsets: readonly TopicPartitionOffset[]): void {
    this.transaction(() => {
      for (const o of offsets) this.#upsertCommitted.run([group, o.topic, o.partition, o.offset])
    })
  }

  recordAppender(info: AppenderInfo): void {
    this.#setAppender.run([info.pid, info.since])
  }

  /** The last process that took the appender lock (it may have exited since). */
  appender(): AppenderInfo | undefined {
    return this.#appender.get([]) as AppenderInfo | undefined
  }
}
