/** @module ProfileStore on PostgreSQL: profiles as rows with JSONB traits and counters, and the per-profile timeline. */
import type { JsonObject } from '../../core/event.js'
import type { ProfileRecord, ProfileStore, TimelineEvent } from '../../profiles/profile-store.js'
import type { PostgresQueryable } from './postgres-pool.js'
import { composeMoves, lastWinsSorted, num, run } from './postgres-query.js'

export interface ProfileRow {
  id: string; created_at: string; first_seen: string; last_seen: string; traits: JsonObject; sealed_traits: string | null
  trait_times: Record<string, number>; event_count: string; source_counts: Record<string, number>
  event_counts: Record<string, number>; merged_into: string | null; updated_at: string
}

export const PROFILE_COLUMNS =
  'id, created_at, first_seen, last_seen, traits, trait_times, event_count, source_counts, event_counts, merged_into, updated_at, sealed_traits'

export function rowToProfile(row: ProfileRow): ProfileRecord {
  return {
    id: row.id, createdAt: num(row.created_at), firstSeen: num(row.first_seen), lastSeen: num(row.last_seen),
    traits: row.traits, traitTimes: row.trait_times, eventCount: num(row.event_count), sourceCounts: row.source_counts,
    eventCounts: row.event_counts, mergedInto: row.merged_into, updatedAt: num(row.updated_at),
    ...(row.sealed_traits === null ? {} : { sealedTraits: row.sealed_traits }),
  }
}

export class PostgresProfileStore implements ProfileStore {
  readonly #db: PostgresQueryable

  /** @param db the client of the current transaction. */
  constructor(db: PostgresQueryable) {
    this.#db = db
  }

  async get(ids: readonly string[]): Promise<Map<string, ProfileRecord>> {
    const out = new Map<string, ProfileRecord>()
    if (ids.length === 0) return out
    const { rows } = await run<ProfileRow>(this.#db, 'read profiles',
      `SELECT ${PROFILE_COLUMNS} FROM profiles WHERE id = ANY ($1::text[])`, [[...ids]])
    for (const row of rows) out.set(row.id, rowToProfile(row))
    return out
  }

  /** One multi-row upsert, rows in id order (a stable lock order between concurrent workers). */
  async put(profiles: readonly ProfileRecord[]): Promise<void> {
    if (profiles.length === 0) return
    const ps = lastWinsSorted(profiles, (p) => p.id)
    const json = (f: (p: ProfileRecord) => unknown): string[] => ps.map((p) => JSON.stringify(f(p)))
    await run(this.#db, 'write profiles',
      `INSERT INTO profiles (${PROFILE_COLUMNS})
       SELECT * FROM unnest($1::text[], $2::bigint[], $3::bigint[], $4::bigint[], $5::jsonb[], $6::jsonb[], $7::bigint[],
         $8::jsonb[], $9::jsonb[], $10::text[], $11::bigint[], $12::text[])
       ON CONFLICT (id) DO UPDATE SET created_at = excluded.created_at, first_seen = excluded.first_seen,
         last_seen = excluded.last_seen, traits = excluded.traits, trait_times = excluded.trait_times,
         event_count = excluded.event_count, source_counts = excluded.source_counts, event_counts = excluded.event_counts,
         merged_into = excluded.merged_into, updated_at = excluded.updated_at, sealed_traits = excluded.sealed_traits`,
      [ps.map((p) => p.id), ps.map((p) => p.createdAt), ps.map((p) => p.firstSeen), ps.map((p) => p.lastSeen),
        json((p) => p.traits), json((p) => p.traitTimes), ps.map((p) => p.eventCount), json((p) => p.sourceCounts),
        json((p) => p.eventCounts), ps.map((p) => p.mergedInto), ps.map((p) => p.updatedAt), ps.map((p) => p.sealedTraits ?? null)])
  }

  async appendEvents(events: readonly TimelineEvent[]): Promise<void> {
    if (events.length === 0) return
    const es = events
    await run(this.#db, 'append timeline events',
      `INSERT INTO profile_events (profile_id, timestamp, message_id, source_id, type, name, payload)
       SELECT * FROM unnest($1::text[], $2::bigint[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[])
       ON CONFLICT DO NOTHING`,
      [es.map((e) => e.profileId), es.map((e) => e.timestamp), es.map((e) => e.messageId), es.map((e) => e.sourceId),
        es.map((e) => e.type), es.map((e) => e.name), es.map((e) => e.payload)])
  }

  /**
   * Two statements for any number of moves (chains folded by `composeMoves`). An event already in the
   * winner's timeline stays where it is (SQLite's `UPDATE OR IGNORE`).
   */
  async moveEvents(moves: readonly { readonly from: string; readonly to: string }[]): Promise<void> {
    if (moves.length === 0) return
    const { src, dst } = composeMoves(moves)
    if (src.length === 0) return
    await run(this.#db, 'move timeline events',
      `UPDATE profile_events AS e SET profile_id = m.dst FROM unnest($1::text[], $2::text[]) AS m (src, dst)
       WHERE e.profile_id = m.src AND NOT EXISTS (
         SELECT 1 FROM profile_events AS x WHERE x.profile_id = m.dst AND x.timestamp = e.timestamp
           AND x.message_id = e.message_id AND x.source_id = e.source_id)`, [src, dst])
    await run(this.#db, 'repoint merge pointers',
      `UPDATE profiles AS p SET merged_into = m.dst FROM unnest($1::text[], $2::text[]) AS m (src, dst)
       WHERE p.merged_into = m.src`, [src, dst])
  }

  async trimEvents(profileIds: readonly string[], keep: number): Promise<void> {
    if (keep <= 0 || profileIds.length === 0) return
    await run(this.#db, 'trim timelines',
      `DELETE FROM profile_events AS e USING (
         SELECT profile_id, timestamp, message_id, source_id FROM (
           SELECT profile_id, timestamp, message_id, source_id,
             row_number() OVER (PARTITION BY profile_id ORDER BY timestamp DESC, message_id DESC, source_id DESC) AS n
           FROM profile_events WHERE profile_id = ANY ($1::text[])) AS ranked
         WHERE n > $2) AS old
       WHERE e.profile_id = old.profile_id AND e.timestamp = old.timestamp AND e.message_id = old.message_id
         AND e.source_id = old.source_id`, [[...profileIds], keep])
  }
}
