/** @module Dedupe keys, sessions and consumer offsets on PostgreSQL (same database and transaction as the state). */
import type { TopicPartitionOffset } from '../../log/event-log.js'
import type { DedupeStore, OffsetStore, SessionState, SessionStore } from '../../pipeline/pipeline-state.js'
import type { PostgresQueryable } from './postgres-pool.js'
import { lastWinsSorted, num, run } from './postgres-query.js'

export class PostgresDedupeStore implements DedupeStore {
  readonly #db: PostgresQueryable

  constructor(db: PostgresQueryable) {
    this.#db = db
  }

  async seen(keys: readonly string[]): Promise<Set<string>> {
    if (keys.length === 0) return new Set()
    const { rows } = await run<{ key: string }>(this.#db, 'read dedupe keys', 'SELECT key FROM dedupe_keys WHERE key = ANY ($1::text[])', [[...keys]])
    return new Set(rows.map((r) => r.key))
  }

  async remember(keys: readonly string[], at: number): Promise<void> {
    if (keys.length === 0) return
    const sorted = [...new Set(keys)].sort()
    await run(this.#db, 'write dedupe keys',
      `INSERT INTO dedupe_keys (key, at) SELECT k, $2::bigint FROM unnest($1::text[]) AS k
       ON CONFLICT (key) DO UPDATE SET at = excluded.at`, [sorted, at])
  }

  async purge(before: number): Promise<number> {
    const { rowCount } = await run(this.#db, 'purge dedupe keys', 'DELETE FROM dedupe_keys WHERE at < $1', [before])
    return rowCount ?? 0
  }
}

export class PostgresSessionStore implements SessionStore {
  readonly #db: PostgresQueryable

  constructor(db: PostgresQueryable) {
    this.#db = db
  }

  async get(keys: readonly string[]): Promise<Map<string, SessionState>> {
    const out = new Map<string, SessionState>()
    if (keys.length === 0) return out
    const { rows } = await run<{ key: string; session_id: string; last_at: string; started_at: string }>(this.#db, 'read sessions',
      'SELECT key, session_id, last_at, started_at FROM sessions WHERE key = ANY ($1::text[])', [[...keys]])
    for (const r of rows) out.set(r.key, { sessionId: r.session_id, lastAt: num(r.last_at), startedAt: num(r.started_at) })
    return out
  }

  async put(sessions: ReadonlyMap<string, SessionState>): Promise<void> {
    if (sessions.size === 0) return
    const entries = [...sessions].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    await run(this.#db, 'write sessions',
      `INSERT INTO sessions (key, session_id, last_at, started_at)
       SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[], $4::bigint[])
       ON CONFLICT (key) DO UPDATE SET session_id = excluded.session_id, last_at = excluded.last_at, started_at = excluded.started_at`,
      [entries.map(([k]) => k), entries.map(([, s]) => s.sessionId), entries.map(([, s]) => s.lastAt), entries.map(([, s]) => s.startedAt)])
  }
}

export class PostgresOffsetStore implements OffsetStore {
  readonly #db: PostgresQueryable

  constructor(db: PostgresQueryable) {
    this.#db = db
  }

  async load(group: string, topic: string): Promise<readonly TopicPartitionOffset[]> {
    const { rows } = await run<{ partition: number; next_offset: string }>(this.#db, 'read consumer offsets',
      'SELECT partition, next_offset FROM consumer_offsets WHERE group_id = $1 AND topic = $2 ORDER BY partition', [group, topic])
    return rows.map((r) => ({ topic, partition: r.partition, offset: num(r.next_offset) }))
  }

  async save(group: string, offsets: readonly TopicPartitionOffset[]): Promise<void> {
    if (offsets.length === 0) return
    const os = lastWinsSorted(offsets, (o) => `${o.topic}\u0000${String(o.partition).padStart(6, '0')}`)
    await run(this.#db, 'write consumer offsets',
      `INSERT INTO consumer_offsets (group_id, topic, partition, next_offset)
       SELECT $1, t, p, o FROM unnest($2::text[], $3::int[], $4::bigint[]) AS x (t, p, o)
       ON CONFLICT (group_id, topic, partition) DO UPDATE SET next_offset = excluded.next_offset`,
      [group, os.map((o) => o.topic), os.map((o) => o.partition), os.map((o) => o.offset)])
  }
}
