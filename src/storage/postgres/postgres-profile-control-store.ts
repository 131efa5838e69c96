/** @module ProfileControlStore on PostgreSQL: the outbox, the owners' unmerge routes and trimmed counts (same database and transaction). */
import type { TrimmedCounts, UnmergeNotice } from '../../profiles/profile-messages.js'
import type { OutboxRecord, ProfileControlStore, ProfileRoute, TrimmedRecord } from '../../profiles/profile-control-store.js'
import type { TimelineEvent } from '../../profiles/profile-store.js'
import type { PostgresQueryable } from './postgres-pool.js'
import { lastWinsSorted, num, run } from './postgres-query.js'

export class PostgresProfileControlStore implements ProfileControlStore {
  readonly #db: PostgresQueryable

  /** @param db the client of the current transaction. */
  constructor(db: PostgresQueryable) {
    this.#db = db
  }

  async enqueue(records: readonly { readonly key: string; readonly value: string }[], now: number): Promise<void> {
    if (records.length === 0) return
    // WITH ORDINALITY keeps the records' order in their sequence numbers.
    await run(this.#db, 'queue control records',
      `INSERT INTO profile_outbox (key, value, queued_at)
       SELECT k, v, $3::bigint FROM unnest($1::text[], $2::text[]) WITH ORDINALITY AS x (k, v, n) ORDER BY n`,
      [records.map((r) => r.key), records.map((r) => r.value), now])
  }

  async pending(limit: number): Promise<OutboxRecord[]> {
    const { rows } = await run<{ seq: string; key: string; value: string }>(this.#db, 'read queued control records',
      'SELECT seq, key, value FROM profile_outbox ORDER BY seq LIMIT $1', [limit])
    return rows.map((r) => ({ seq: num(r.seq), key: r.key, value: r.value }))
  }

  async published(seqs: readonly number[]): Promise<void> {
    if (seqs.length === 0) return
    await run(this.#db, 'remove published control records', 'DELETE FROM profile_outbox WHERE seq = ANY ($1::bigint[])', [[...seqs]])
  }

  async routes(profileIds: readonly string[]): Promise<Map<string, ProfileRoute>> {
    const out = new Map<string, ProfileRoute>()
    if (profileIds.length === 0) return out
    const { rows } = await run<{ profile_id: string; notice: string }>(this.#db, 'read unmerge routes',
      'SELECT profile_id, notice FROM profile_routes WHERE profile_id = ANY ($1::text[])', [[...profileIds]])
    for (const r of rows) out.set(r.profile_id, { profileId: r.profile_id, notice: JSON.parse(r.notice) as UnmergeNotice })
    return out
  }

  async putRoutes(routes: readonly ProfileRoute[]): Promise<void> {
    if (routes.length === 0) return
    const rs = lastWinsSorted(routes, (r) => r.profileId)
    await run(this.#db, 'write unmerge routes',
      `INSERT INTO profile_routes (profile_id, unmerge_seq, notice) SELECT * FROM unnest($1::text[], $2::bigint[], $3::text[])
       ON CONFLICT (profile_id) DO UPDATE SET unmerge_seq = excluded.unmerge_seq, notice = excluded.notice`,
      [rs.map((r) => r.profileId), rs.map((r) => r.notice.unmerge), rs.map((r) => JSON.stringify(r.notice))])
  }

  async trimmed(profileIds: readonly string[]): Promise<Map<string, TrimmedRecord>> {
    const out = new Map<string, TrimmedRecord>()
    if (profileIds.length === 0) return out
    const { rows } = await run<{ profile_id: string; counts: string }>(this.#db, 'read trimmed counts',
      'SELECT profile_id, counts FROM profile_trimmed WHERE profile_id = ANY ($1::text[])', [[...profileIds]])
    for (const r of rows) out.set(r.profile_id, { profileId: r.profile_id, ...(JSON.parse(r.counts) as TrimmedCounts) })
    return out
  }

  async putTrimmed(records: readonly TrimmedRecord[]): Promise<void> {
    if (records.length === 0) return
    const rs = lastWinsSorted(records, (r) => r.profileId)
    await run(this.#db, 'write trimmed counts',
      `INSERT INTO profile_trimmed (profile_id, counts) SELECT * FROM unnest($1::text[], $2::text[])
       ON CONFLICT (profile_id) DO UPDATE SET counts = excluded.counts`,
      [rs.map((r) => r.profileId), rs.map(({ profileId: _, ...counts }) => JSON.stringify(counts))])
  }

  async takeTrimmed(profileIds: readonly string[], keep: number): Promise<TimelineEvent[]> {
    if (keep <= 0 || profileIds.length === 0) return []
    const { rows } = await run<{ profile_id: string; timestamp: string; message_id: string; source_id: string; type: string; name: string | null; payload: string }>(
      this.#db, 'trim timelines',
      `DELETE FROM profile_events AS e USING (
         SELECT profile_id, timestamp, message_id, source_id FROM (
           SELECT profile_id, timestamp, message_id, source_id,
             row_number() OVER (PARTITION BY profile_id ORDER BY timestamp DESC, message_id DESC, source_id DESC) AS n
           FROM profile_events WHERE profile_id = ANY ($1::text[])) AS ranked
         WHERE n > $2) AS old
       WHERE e.profile_id = old.profile_id AND e.timestamp = old.timestamp AND e.message_id = old.message_id
         AND e.source_id = old.source_id
       RETURNING e.profile_id, e.timestamp, e.message_id, e.source_id, e.type, e.name, e.payload`, [[...profileIds], keep])
    return rows
      .map((r) => ({ profileId: r.profile_id, timestamp: num(r.timestamp), messageId: r.message_id, sourceId: r.source_id, type: r.type, name: r.name, payload: r.payload }))
      .sort((a, b) => a.timestamp - b.timestamp || (a.messageId < b.messageId ? -1 : 1))
  }

  async deleteEvents(rows: readonly { readonly profileId: string; readonly messageId: string; readonly sourceId: string }[]): Promise<void> {
    if (rows.length === 0) return
    await run(this.#db, 'delete re-attributed timeline events',
      `DELETE FROM profile_events AS e USING unnest($1::text[], $2::text[], $3::text[]) AS d (p, m, s)
       WHERE e.profile_id = d.p AND e.message_id = d.m AND e.source_id = d.s`,
      [rows.map((r) => r.profileId), rows.map((r) => r.messageId), rows.map((r) => r.sourceId)])
  }
}
