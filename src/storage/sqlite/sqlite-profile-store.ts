/** @module ProfileStore on SQLite: profiles as rows with JSON columns, and the per-profile timeline. */
import type { ProfileRecord, ProfileStore, TimelineEvent } from '../../profiles/profile-store.js'
import type { SqliteDatabase, SqliteStatement } from './sqlite-database.js'

export interface ProfileRow {
  id: string; created_at: number; first_seen: number; last_seen: number; traits: string; sealed_traits: string | null; trait_times: string
  event_count: number; source_counts: string; event_counts: string; merged_into: string | null; updated_at: number
}

export const PROFILE_COLUMNS =
  'id, created_at, first_seen, last_seen, traits, sealed_traits, trait_times, event_count, source_counts, event_counts, merged_into, updated_at'

export function rowToProfile(row: ProfileRow): ProfileRecord {
  return {
    id: row.id, createdAt: row.created_at, firstSeen: row.first_seen, lastSeen: row.last_seen,
    traits: JSON.parse(row.traits), traitTimes: JSON.parse(row.trait_times), eventCount: row.event_count,
    sourceCounts: JSON.parse(row.source_counts), eventCounts: JSON.parse(row.event_counts),
    mergedInto: row.merged_into, updatedAt: row.updated_at,
    ...(row.sealed_traits === null ? {} : { sealedTraits: row.sealed_traits }),
  }
}

export class SqliteProfileStore implements ProfileStore {
  readonly #get: SqliteStatement
  readonly #put: SqliteStatement
  readonly #appendEvent: SqliteStatement
  readonly #moveEvents: SqliteStatement
  readonly #repointMerged: SqliteStatement
  readonly #trim: SqliteStatement

  constructor(db: SqliteDatabase) {
    this.#get = db.prepare(`SELECT ${PROFILE_COLUMNS} FROM profiles WHERE id IN (SELECT value FROM json_each(?))`)
    this.#put = db.prepare(`INSERT OR REPLACE INTO profiles (${PROFILE_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`)
    this.#appendEvent = db.prepare(
      `INSERT OR IGNORE INTO profile_events (profile_id, timestamp, message_id, source_id, type, name, payload)
       VALUES (?, ?, ?, ?, ?, ?, ?)`,
    )
    this.#moveEvents = db.prepare('UPDATE OR IGNORE profile_events SET profile_id = ? WHERE profile_id = ?')
    this.#repointMerged = db.prepare('UPDATE profiles SET merged_into = ? WHERE merged_into = ?')
    this.#trim = db.prepare(
      `DELETE FROM profile_events WHERE profile_id = @id AND (timestamp, message_id) < (
         SELECT timestamp, message_id FROM profile_events WHERE profile_id = @id
         ORDER BY timestamp DESC, message_id DESC LIMIT 1 OFFSET @keep - 1)`,
    )
  }

  async get(ids: readonly string[]): Promise<Map<string, ProfileRecord>> {
    const out = new Map<string, ProfileRecord>()
    if (ids.length === 0) return out
    for (const row of this.#get.all(JSON.stringify(ids)) as ProfileRow[]) out.set(row.id, rowToProfile(row))
    return out
  }

  async put(profiles: readonly ProfileRecord[]): Promise<void> {
    for (const p of profiles) {
      this.#put.run(
        p.id, p.createdAt, p.firstSeen, p.lastSeen, JSON.stringify(p.traits), p.sealedTraits ?? null, JSON.stringify(p.traitTimes), p.eventCount,
        JSON.stringify(p.sourceCounts), JSON.stringify(p.eventCounts), p.mergedInto, p.updatedAt,
      )
    }
  }

  async appendEvents(events: readonly TimelineEvent[]): Promise<void> {
    for (const e of events) this.#appendEvent.run(e.profileId, e.timestamp, e.messageId, e.sourceId, e.type, e.name, e.payload)
  }

  async moveEvents(moves: readonly { readonly from: string; readonly to: string }[]): Promise<void> {
    for (const { from, to } of moves) {
      this.#moveEvents.run(to, from)
      this.#repointMerged.run(to, from)
    }
  }

  async trimEvents(profileIds: readonly string[], keep: number): Promise<void> {
    if (keep <= 0) return
    for (const id of profileIds) this.#trim.run({ id, keep })
  }
}
