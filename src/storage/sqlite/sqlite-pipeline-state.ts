/** @module Dedupe keys, sessions and consumer offsets on SQLite (same database and transaction as the state). */
import type { TopicPartitionOffset } from '../../log/event-log.js'
import type { DedupeStore, OffsetStore, SessionState, SessionStore } from '../../pipeline/pipeline-state.js'
import type { SqliteDatabase, SqliteStatement } from './sqlite-database.js'

export class SqliteDedupeStore implements DedupeStore {
  readonly #seen: SqliteStatement
  readonly #remember: SqliteStatement
  readonly #purge: SqliteStatement

  constructor(db: SqliteDatabase) {
    this.#seen = db.prepare('SELECT key FROM dedupe_keys WHERE key IN (SELECT value FROM json_each(?))')
    this.#remember = db.prepare('INSERT OR REPLACE INTO dedupe_keys (key, at) VALUES (?, ?)')
    this.#purge = db.prepare('DELETE FROM dedupe_keys WHERE at < ?')
  }

  async seen(keys: readonly string[]): Promise<Set<string>> {
    if (keys.length === 0) return new Set()
    return new Set((this.#seen.all(JSON.stringify(keys)) as { key: string }[]).map((r) => r.key))
  }

  async remember(keys: readonly string[], at: number): Promise<void> {
    for (const key of keys) this.#remember.run(key, at)
  }

  async purge(before: number): Promise<number> {
    return this.#purge.run(before).changes
  }
}

export class SqliteSessionStore implements SessionStore {
  readonly #get: SqliteStatement
  readonly #put: SqliteStatement

  constructor(db: SqliteDatabase) {
    this.#get = db.prepare('SELECT key, session_id, last_at, started_at FROM sessions WHERE key IN (SELECT value FROM json_each(?))')
    this.#put = db.prepare('INSERT OR REPLACE INTO sessions (key, session_id, last_at, started_at) VALUES (?, ?, ?, ?)')
  }

  async get(keys: readonly string[]): Promise<Map<string, SessionState>> {
    const out = new Map<string, SessionState>()
    if (keys.length === 0) return out
    const rows = this.#get.all(JSON.stringify(keys)) as { key: string; session_id: string; last_at: number; started_at: number }[]
    for (const r of rows) out.set(r.key, { sessionId: r.session_id, lastAt: r.last_at, startedAt: r.started_at })
    return out
  }

  async put(sessions: ReadonlyMap<string, SessionState>): Promise<void> {
    for (const [key, s] of sessions) this.#put.run(key, s.sessionId, s.lastAt, s.startedAt)
  }
}

export class SqliteOffsetStore implements OffsetStore {
  readonly #load: SqliteStatement
  readonly #save: SqliteStatement

  constructor(db: SqliteDatabase) {
    this.#load = db.prepare('SELECT partition, next_offset FROM consumer_offsets WHERE group_id = ? AND topic = ?')
    this.#save = db.prepare('INSERT OR REPLACE INTO consumer_offsets (group_id, topic, partition, next_offset) VALUES (?, ?, ?, ?)')
  }

  async load(group: string, topic: string): Promise<readonly TopicPartitionOffset[]> {
    const rows = this.#load.all(group, topic) as { partition: number; next_offset: number }[]
    return rows.map((r) => ({ topic, partition: r.partition, offset: r.next_offset }))
  }

  async save(group: string, offsets: readonly TopicPartitionOffset[]): Promise<void> {
    for (const o of offsets) this.#save.run(group, o.topic, o.partition, o.offset)
  }
}
