/** @module ProfileControlStore on SQLite: the outbox, the owners' unmerge routes and trimmed counts (same database and transaction). */
import type { TrimmedCounts, UnmergeNotice } from '../../profiles/profile-messages.js'
import type { OutboxRecord, ProfileControlStore, ProfileRoute, TrimmedRecord } from '../../profiles/profile-control-store.js'
import type { TimelineEvent } from '../../profiles/profile-store.js'
import type { SqliteDatabase, SqliteStatement } from './sqlite-database.js'

interface EventRow { profile_id: string; timestamp: number; message_id: string; source_id: string; type: string; name: string | null; payload: string }

export class SqliteProfileControlStore implements ProfileControlStore {
  readonly #enqueue: SqliteStatement
  readonly #pending: SqliteStatement
  readonly #published: SqliteStatement
  readonly #routes: SqliteStatement
  readonly #putRoute: SqliteStatement
  readonly #trimmed: SqliteStatement
  readonly #putTrimmed: SqliteStatement
  readonly #take: SqliteStatement
  readonly #deleteEvent: SqliteStatement

  constructor(db: SqliteDatabase) {
    this.#enqueue = db.prepare('INSERT INTO profile_outbox (key, value, queued_at) VALUES (?, ?, ?)')
    this.#pending = db.prepare('SELECT seq, key, value FROM profile_outbox ORDER BY seq LIMIT ?')
    this.#published = db.prepare('DELETE FROM profile_outbox WHERE seq IN (SELECT value FROM json_each(?))')
    this.#routes = db.prepare('SELECT profile_id, notice FROM profile_routes WHERE profile_id IN (SELECT value FROM json_each(?))')
    this.#putRoute = db.prepare('INSERT OR REPLACE INTO profile_routes (profile_id, unmerge_seq, notice) VALUES (?, ?, ?)')
    this.#trimmed = db.prepare('SELECT profile_id, counts FROM profile_trimmed WHERE profile_id IN (SELECT value FROM json_each(?))')
    this.#putTrimmed = db.prepare('INSERT OR REPLACE INTO profile_trimmed (profile_id, counts) VALUES (?, ?)')
    this.#take = db.prepare(
      `DELETE FROM profile_events WHERE profile_id = @id AND (timestamp, message_id) < (
         SELECT timestamp, message_id FROM profile_events WHERE profile_id = @id
         ORDER BY timestamp DESC, message_id DESC LIMIT 1 OFFSET @keep - 1)
       RETURNING profile_id, timestamp, message_id, source_id, type, name, payload`,
    )
    this.#deleteEvent = db.prepare('DELETE FROM profile_events WHERE profile_id = ? AND message_id = ? AND source_id = ?')
  }

  async enqueue(records: readonly { readonly key: string; readonly value: string }[], now: number): Promise<void> {
    for (const r of records) this.#enqueue.run(r.key, r.value, now)
  }

  async pending(limit: number): Promise<OutboxRecord[]> {
    return (this.#pending.all(limit) as { seq: number; key: string; value: string }[]).map((r) => ({ seq: Number(r.seq), key: r.key, value: r.value }))
  }

  async published(seqs: readonly number[]): Promise<void> {
    if (seqs.length > 0) this.#published.run(JSON.stringify(seqs))
  }

  async routes(profileIds: readonly string[]): Promise<Map<string, ProfileRoute>> {
    const out = new Map<string, ProfileRoute>()
    if (profileIds.length === 0) return out
    for (const r of this.#routes.all(JSON.stringify(profileIds)) as { profile_id: string; notice: string }[]) {
      out.set(r.profile_id, { profileId: r.profile_id, notice: JSON.parse(r.notice) as UnmergeNotice })
    }
    return out
  }

  async putRoutes(routes: readonly ProfileRoute[]): Promise<void> {
    for (const r of routes) this.#putRoute.run(r.profileId, r.notice.unmerge, JSON.stringify(r.notice))
  }

  async trimmed(profileIds: readonly string[]): Promise<Map<string, TrimmedRecord>> {
    const out = new Map<string, TrimmedRecord>()
    if (profileIds.length === 0) return out
    for (const r of this.#trimmed.all(JSON.stringify(profileIds)) as { profile_id: string; counts: string }[]) {
      out.set(r.profile_id, { profileId: r.profile_id, ...(JSON.parse(r.counts) as TrimmedCounts) })
    }
    return out
  }

  async putTrimmed(records: readonly TrimmedRecord[]): Promise<void> {
    for (const { profileId, ...counts } of records) this.#putTrimmed.run(profileId, JSON.stringify(counts))
  }

  async takeTrimmed(profileIds: readonly string[], keep: number): Promise<TimelineEvent[]> {
    if (keep <= 0) return []
    const out: TimelineEvent[] = []
    for (const id of profileIds) {
      for (const r of this.#take.all({ id, keep }) as EventRow[]) {
        out.push({ profileId: r.profile_id, timestamp: r.timestamp, messageId: r.message_id, sourceId: r.source_id, type: r.type, name: r.name, payload: r.payload })
      }
    }
    return out.sort((a, b) => a.timestamp - b.timestamp || (a.messageId < b.messageId ? -1 : 1))
  }

  async deleteEvents(rows: readonly { readonly profileId: string; readonly messageId: string; readonly sourceId: string }[]): Promise<void> {
    for (const r of rows) this.#deleteEvent.run(r.profileId, r.messageId, r.sourceId)
  }
}
