/** @module ProfileReader on SQLite: a separate read-only connection, so API reads never wait for the pipeline (WAL). */
import type { IdentityEdge, IdentifierNode, LinkRule, MergeRecord, RejectedIdentifier, RejectionReason } from '../../identity/identity-store.js'
import type { FilterCondition, IdentifierCondition, ProfileReader, ProfileTraitsRow, TimelineCursor, TimelinePage } from '../../profiles/profile-reader.js'
import type { ProfileRecord } from '../../profiles/profile-store.js'
import type { JsonObject } from '../../core/event.js'
import type { SqliteDatabase, SqliteStatement } from './sqlite-database.js'
import { PROFILE_COLUMNS, rowToProfile, type ProfileRow } from './sqlite-profile-store.js'
import { storedTimelineEntry } from '../../profiles/profile-sealing.js'

export class SqliteProfileReader implements ProfileReader {
  readonly #db: SqliteDatabase
  readonly #profile: SqliteStatement
  readonly #mergedInto: SqliteStatement
  readonly #byIdentifier: SqliteStatement
  readonly #identities: SqliteStatement
  readonly #edges: SqliteStatement
  readonly #merges: SqliteStatement
  readonly #rejections: SqliteStatement
  readonly #events: SqliteStatement
  readonly #values: SqliteStatement

  constructor(db: SqliteDatabase) {
    this.#db = db
    this.#profile = db.prepare(`SELECT ${PROFILE_COLUMNS} FROM profiles WHERE id = ?`)
    this.#mergedInto = db.prepare('SELECT merged_into FROM profiles WHERE id = ?')
    this.#values = db.prepare(
      `SELECT key, sealed FROM identifiers WHERE key IN (SELECT value FROM json_each(@keys)) AND sealed IS NOT NULL
       UNION ALL SELECT key, sealed FROM identifier_values WHERE key IN (SELECT value FROM json_each(@keys))`,
    )
    this.#byIdentifier = db.prepare('SELECT profile_id FROM identifiers WHERE key = ?')
    this.#identities = db.prepare('SELECT key, type, value, profile_id, first_seen FROM identifiers WHERE profile_id = ? ORDER BY first_seen, key')
    this.#edges = db.prepare(
      `SELECT from_key, to_key, rule, message_id, source_id, event_time, confidence FROM identity_edges
       WHERE from_key IN (SELECT key FROM identifiers WHERE profile_id = @id)
          OR to_key IN (SELECT key FROM identifiers WHERE profile_id = @id) ORDER BY seq`,
    )
    this.#merges = db.prepare('SELECT winner, loser, message_id, rule, event_time FROM profile_merges WHERE winner = @id OR loser = @id ORDER BY seq')
    this.#rejections = db.prepare('SELECT key, message_id, reason, profile_id, event_time FROM identity_rejections WHERE profile_id = ? ORDER BY seq DESC LIMIT 100')
    this.#events = db.prepare(
      // A profile's timeline includes the rows of profiles merged into it (transitively): with partitioned profile
      // updates each owner keeps its rows under its own profile (inline updates move them, so this finds none).
      `WITH RECURSIVE members(id) AS (SELECT ? UNION SELECT p.id FROM profiles p JOIN members m ON p.merged_into = m.id)
       SELECT message_id, source_id, type, name, timestamp, payload FROM profile_events
       WHERE profile_id IN (SELECT id FROM members) AND (timestamp, message_id) < (?, ?)
       ORDER BY timestamp DESC, message_id DESC LIMIT ?`,
    )
  }

  async profile(id: string): Promise<ProfileRecord | null> {
    const row = this.#profile.get(id) as ProfileRow | undefined
    return row ? rowToProfile(row) : null
  }

  async canonicalId(id: string): Promise<string | null> {
    let current = id
    for (let hops = 0; hops < 64; hops++) {
      const row = this.#mergedInto.get(current) as { merged_into: string | null } | undefined
      if (!row) return hops === 0 ? null : current
      if (row.merged_into === null) return current
      current = row.merged_into
    }
    throw new Error(`merge chain from ${id} is longer than 64 hops`)
  }

  async profileIdByIdentifier(type: string, value: string): Promise<string | null> {
    const row = this.#byIdentifier.get(`${type}:${value}`) as { profile_id: string } | undefined
    return row?.profile_id ?? null
  }

  async identities(profileId: string): Promise<readonly IdentifierNode[]> {
    const rows = this.#identities.all(profileId) as { key: string; type: string; value: string; profile_id: string; first_seen: number }[]
    return rows.map((r) => ({ key: r.key, type: r.type, value: r.value, profileId: r.profile_id, firstSeen: r.first_seen }))
  }

  async edges(profileId: string): Promise<readonly IdentityEdge[]> {
    const rows = this.#edges.all({ id: profileId }) as {
      from_key: string; to_key: string; rule: LinkRule; message_id: string; source_id: string; event_time: number; confidence: number
    }[]
    return rows.map((r) => ({
      from: r.from_key, to: r.to_key, rule: r.rule, messageId: r.message_id, sourceId: r.source_id,
      eventTime: r.event_time, confidence: r.confidence,
    }))
  }

  async merges(profileId: string): Promise<readonly MergeRecord[]> {
    const rows = this.#merges.all({ id: profileId }) as { winner: string; loser: string; message_id: string; rule: LinkRule; event_time: number }[]
    return rows.map((r) => ({ winner: r.winner, loser: r.loser, messageId: r.message_id, rule: r.rule, eventTime: r.event_time }))
  }

  async identifierValues(keys: readonly string[]): Promise<Map<string, string>> {
    if (keys.length === 0) return new Map()
    const rows = this.#values.all({ keys: JSON.stringify([...new Set(keys)]) }) as { key: string; sealed: string }[]
    return new Map(rows.map((r) => [r.key, r.sealed]))
  }

  async rejections(profileId: string): Promise<readonly RejectedIdentifier[]> {
    const rows = this.#rejections.all(profileId) as { key: string; message_id: string; reason: RejectionReason; profile_id: string; event_time: number }[]
    return rows.map((r) => ({ key: r.key, messageId: r.message_id, reason: r.reason, profileId: r.profile_id, eventTime: r.event_time }))
  }

  async events(profileId: string, options: { limit: number; after?: TimelineCursor }): Promise<TimelinePage> {
    const after = options.after ?? { timestamp: Number.MAX_SAFE_INTEGER, messageId: '' }
    const rows = this.#events.all(profileId, after.timestamp, after.messageId, options.limit + 1) as {
      message_id: string; source_id: string; type: string; name: string | null; timestamp: number; payload: string
    }[]
    const page = rows.slice(0, options.limit)
    return {
      events: page.map((r) => storedTimelineEntry({ messageId: r.message_id, sourceId: r.source_id, type: r.type, name: r.name, timestamp: r.timestamp }, r.payload)),
      next: rows.length > options.limit && page.length > 0
        ? { timestamp: page[page.length - 1]!.timestamp, messageId: page[page.length - 1]!.message_id }
        : null,
    }
  }

  async countProfiles(filter: readonly FilterCondition[], consent: readonly IdentifierCondition[] = []): Promise<number> {
    const where: string[] = ['merged_into IS NULL']
    const params: (string | number)[] = []
    for (const c of filter) where.push(sqliteCondition(c, params))
    for (const c of consent) {
      params.push(JSON.stringify([...new Set(c.keys)]))
      where.push(`NOT EXISTS (SELECT 1 FROM identifiers i WHERE i.profile_id = profiles.id AND i.key ${c.identifiers === 'none' ? 'IN' : 'NOT IN'} (SELECT value FROM json_each(?)))`)
    }
    return (this.#db.prepare(`SELECT count(*) AS n FROM profiles WHERE ${where.join(' AND ')}`).get(...params) as { n: number }).n
  }

  async profileTraits(options: { readonly limit: number; readonly afterId?: string }): Promise<ProfileTraitsRow[]> {
    const rows = this.#db.prepare('SELECT id, traits, sealed_traits FROM profiles WHERE merged_into IS NULL AND id > ? ORDER BY id LIMIT ?')
      .all(options.afterId ?? '', options.limit) as { id: string; traits: string; sealed_traits: string | null }[]
    return rows.map((r) => ({ id: r.id, traits: JSON.parse(r.traits) as JsonObject, ...(r.sealed_traits === null ? {} : { sealedTraits: r.sealed_traits }) }))
  }

  async stats(): Promise<{ profiles: number; identifiers: number; events: number; merges: number }> {
    const one = (sql: string): number => (this.#db.prepare(sql).get() as { n: number }).n
    return {
      profiles: one('SELECT count(*) AS n FROM profiles WHERE merged_into IS NULL'),
      identifiers: one('SELECT count(*) AS n FROM identifiers'),
      events: one('SELECT count(*) AS n FROM profile_events'),
      merges: one('SELECT count(*) AS n FROM profile_merges'),
    }
  }

  async close(): Promise<void> {
    this.#db.close()
  }
}

/** A JSON path for SQLite's JSON functions, each key quoted (the count filter refuses quotes and backslashes in keys). */
function jsonPath(path: readonly string[]): string {
  return `$${path.map((p) => `."${p}"`).join('')}`
}

const SQL_OPERATOR: Readonly<Record<Exclude<FilterCondition['op'], 'exists'>, string>> = { '=': '=', '!=': '<>', '<': '<', '<=': '<=', '>': '>', '>=': '>=' }

/** One condition as SQL over fixed column names and operators, its values pushed to `params`. */
export function sqliteCondition(c: FilterCondition, params: (string | number)[]): string {
  if (c.column === 'eventCount') {
    if (c.op === 'exists' || typeof c.value !== 'number') throw new Error('eventCount compares with numbers')
    params.push(c.value)
    return `event_count ${SQL_OPERATOR[c.op]} ?`
  }
  const path = jsonPath(c.path)
  if (c.column !== 'traits') {
    if (c.op === 'exists' || typeof c.value !== 'number') throw new Error('counters compare with numbers')
    params.push(path, c.value)
    return `coalesce(json_extract(${c.column === 'eventCounts' ? 'event_counts' : 'source_counts'}, ?), 0) ${SQL_OPERATOR[c.op]} ?`
  }
  if (c.op === 'exists') {
    params.push(path)
    return `coalesce(json_type(traits, ?), 'null') <> 'null'`
  }
  if (typeof c.value === 'boolean') {
    if (c.op !== '=' && c.op !== '!=') throw new Error('booleans compare with = or !=')
    params.push(path, path, c.value ? 'true' : 'false')
    return `(json_type(traits, ?) IN ('true', 'false') AND json_type(traits, ?) ${SQL_OPERATOR[c.op]} ?)`
  }
  if (typeof c.value === 'string') {
    if (c.op !== '=' && c.op !== '!=') throw new Error('text compares with = or !=')
    params.push(path, path, c.value)
    return `(json_type(traits, ?) = 'text' AND json_extract(traits, ?) ${SQL_OPERATOR[c.op]} ?)`
  }
  if (typeof c.value !== 'number') throw new Error('a trait compares with text, a number or a boolean')
  params.push(path, path, c.value)
  return `(json_type(traits, ?) IN ('integer', 'real') AND json_extract(traits, ?) ${SQL_OPERATOR[c.op]} ?)`
}
