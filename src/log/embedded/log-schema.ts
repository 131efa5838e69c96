/**
 * @module Schema of the embedded log file, versioned with `PRAGMA user_version` and migrated forward only.
 *
 * Tables (prefixed `log_` so the file could share a database with other state without clashes):
 * - `log_topics(name, partitions)`: partition counts are fixed once a topic exists.
 * - `log_records(topic, partition, offset, key, value, ts)`: clustered on (topic, partition, offset) WITHOUT ROWID,
 *   so a partition is one contiguous B-tree range: appends go to its end and consumers read it sequentially.
 * - `log_time_index(topic, partition, max_ts, offset)`: a sparse time index for `offsetsForTime` (Kafka's
 *   `.timeindex`): one row each time a group commit raises a partition's highest timestamp so far, holding the new
 *   maximum and the first offset of that group. Because the maximum only grows, the first row with
 *   `max_ts >= t` names the group where the first record with `ts >= t` is; that group is then scanned. A per-record
 *   index on `ts` would do the same job but halved append throughput (measured; one more B-tree insert per record).
 * - `log_committed_offsets(group_id, topic, partition, offset)`: a consumer group's position.
 * - `log_appender`: who holds the appender lock (informational, to name the pid when refusing a second appender).
 * - `log_watermarks(topic, partition, next_offset)` (version 2): the offset after the last record retention deleted,
 *   so that a partition emptied by retention never hands out an offset again.
 */
import { TesseraError } from '../../core/errors.js'
import type { SqliteDatabase } from './sqlite-database.js'

/** Migration `i` takes the schema from version `i` to `i + 1`. Never edit a released entry: append a new one. */
const MIGRATIONS: readonly string[] = [
  `
  CREATE TABLE log_topics (
    name TEXT NOT NULL PRIMARY KEY,
    partitions INTEGER NOT NULL CHECK (partitions > 0)
  ) STRICT;
  CREATE TABLE log_records (
    topic TEXT NOT NULL,
    partition INTEGER NOT NULL,
    offset INTEGER NOT NULL,
    key TEXT,
    value TEXT NOT NULL,
    ts INTEGER NOT NULL,
    PRIMARY KEY (topic, partition, offset)
  ) STRICT, WITHOUT ROWID;
  CREATE TABLE log_time_index (
    topic TEXT NOT NULL,
    partition INTEGER NOT NULL,
    max_ts INTEGER NOT NULL,
    offset INTEGER NOT NULL,
    PRIMARY KEY (topic, partition, max_ts, offset)
  ) STRICT, WITHOUT ROWID;
  CREATE TABLE log_committed_offsets (
    group_id TEXT NOT NULL,
    topic TEXT NOT NULL,
    partition INTEGER NOT NULL,
    offset INTEGER NOT NULL,
    PRIMARY KEY (group_id, topic, partition)
  ) STRICT, WITHOUT ROWID;
  CREATE TABLE log_appender (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    pid INTEGER NOT NULL,
    since INTEGER NOT NULL
  ) STRICT;
  `,
  `
  CREATE TABLE log_watermarks (
    topic TEXT NOT NULL,
    partition INTEGER NOT NULL,
    next_offset INTEGER NOT NULL,
    PRIMARY KEY (topic, partition)
  ) STRICT, WITHOUT ROWID;
  `,
]

/** The schema version this build writes. */
export const LOG_SCHEMA_VERSION = MIGRATIONS.length

function userVersion(db: SqliteDatabase): number {
  const row = db.prepare('PRAGMA user_version').get([]) as { user_version: number }
  return row.user_version
}

/**
 * Brings the file's schema up to {@link LOG_SCHEMA_VERSION}. Safe to call from several connections at once (the
 * appender and readers in other threads may open a fresh file together): the version is re-read inside a write
 * transaction, so exactly one of them migrates. Refuses a file written by a newer Tessera instead of guessing.
 */
export function migrateLogSchema(db: SqliteDatabase, path: string): void {
  if (userVersion(db) === LOG_SCHEMA_VERSION) return
  db.exec('BEGIN IMMEDIATE')
  try {
    const current = userVersion(db)
    if (current > LOG_SCHEMA_VERSION) {
      throw new TesseraError('TESSERA_CONFIG',
        `event log ${path} has schema version ${current}, newer than this build knows (${LOG_SCHEMA_VERSION}); upgrade Tessera`)
    }
    for (let version = current; version < LOG_SCHEMA_VERSION; version++) db.exec(MIGRATIONS[version]!)
    // PRAGMA takes no bound parameters; the value is our own integer.
    db.exec(`PRAGMA user_version = ${LOG_SCHEMA_VERSION}`)
    db.exec('COMMIT')
  } catch (error) {
    if (db.inTransaction) db.exec('ROLLBACK')
    throw error
  }
}
