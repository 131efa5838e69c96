/**
 * @module ProfileReader on PostgreSQL: the admin API's read side, on a pool of its own (auto-commit
 * statements outside any transaction), so API reads never wait for, or hold connections of, the pipeline.
 */
import type { JsonObject } from '../../core/event.js'
import type { IdentityEdge, IdentifierNode, LinkRule, MergeRecord, RejectedIdentifier, RejectionReason } from '../../identity/identity-store.js'
import type { FilterCondition, IdentifierCondition, ProfileReader, ProfileTraitsRow, TimelineCursor, TimelinePage } from '../../profiles/profile-reader.js'
import type { ProfileRecord } from '../../profiles/profile-store.js'
import type { PostgresPool } from './postgres-pool.js'
import { num, run } from './postgres-query.js'
import { rowToNode } from './postgres-identity-store.js'
import { PROFILE_COLUMNS, rowToProfile, type ProfileRow } from './postgres-profile-store.js'
import { storedTimelineEntry } from '../../profiles/profile-sealing.js'

const MAX_MERGE_HOPS = 64

export class PostgresProfileReader implements ProfileReader {
  readonly #pool: PostgresPool
  #closed = false

  /** @param pool owned by the reader: `close()` ends it. */
  constructor(pool: PostgresPool) {
    this.#pool = pool
  }

  async profile(id: string): Promise<ProfileRecord | null> {
    const { rows } = await run<ProfileRow>(this.#pool, 'read a profile', `SELECT ${PROFILE_COLUMNS} FROM profiles WHERE id = $1`, [id])
    return rows[0] ? rowToProfile(rows[0]) : null
  }

  /** Follows `merged_into` in one recursive query. */
  async canonicalId(id: string): Promise<string | null> {
    const { rows } = await run<{ id: string; merged_into: string | null; hops: number }>(this.#pool, 'follow merge pointers',
      `WITH RECURSIVE chain (id, merged_into, hops) AS (
         SELECT id, merged_into, 0 FROM profiles WHERE id = $1
         UNION ALL
         SELECT p.id, p.merged_into, c.hops + 1 FROM chain AS c JOIN profiles AS p ON p.id = c.merged_into WHERE c.hops < $2
       ) SELECT id, merged_into, hops FROM chain ORDER BY hops DESC LIMIT 1`, [id, MAX_MERGE_HOPS])
    const last = rows[0]
    if (!last) return null
    if (last.merged_into !== null) throw new Error(`merge chain from ${id} is longer than ${MAX_MERGE_HOPS} hops`)
    return last.id
  }

  async profileIdByIdentifier(type: string, value: string): Promise<string | null> {
    const { rows } = await run<{ profile_id: string }>(this.#pool, 'look up an identifier',
      'SELECT profile_id FROM identifiers WHERE key = $1', [`${type}:${value}`])
    return rows[0]?.profile_id ?? null
  }

  async identities(profileId: string): Promise<readonly IdentifierNode[]> {
    const { rows } = await run<Parameters<typeof rowToNode>[0]>(this.#pool, 'read identities',
      'SELECT key, type, value, profile_id, first_seen FROM identifiers WHERE profile_id = $1 ORDER BY first_seen, key', [profileId])
    return rows.map(rowToNode)
  }

  async edges(profileId: string): Promise<readonly IdentityEdge[]> {
    const { rows } = await run<{
      from_key: string; to_key: string; rule: LinkRule; message_id: string; source_id: string; event_time: string; confidence: number
    }>(this.#pool, 'read identity edges',
      `SELECT from_key, to_key, rule, message_id, source_id, event_time, confidence FROM identity_edges
       WHERE from_key IN (SELECT key FROM identifiers WHERE profile_id = $1)
          OR to_key IN (SELECT key FROM identifiers WHERE profile_id = $1) ORDER BY seq`, [profileId])
    return rows.map((r) => ({
      from: r.from_key, to: r.to_key, rule: r.rule, messageId: r.message_id, sourceId: r.source_id,
      eventTime: num(r.event_time), confidence: r.confidence,
    }))
  }

  async merges(profileId: string): Promise<readonly MergeRecord[]> {
    const { rows } = await run<{ winner: string; loser: string; message_id: string; rule: LinkRule; event_time: string }>(this.#pool,
      'read merges', 'SELECT winner, loser, message_id, rule, event_time FROM profile_merges WHERE winner = $1 OR loser = $1 ORDER BY seq', [profileId])
    return rows.map((r) => ({ winner: r.winner, loser: r.loser, messageId: r.message_id, rule: r.rule, eventTime: num(r.event_time) }))
  }

  async identifierValues(keys: readonly string[]): Promise<Map<string, string>> {
    if (keys.length === 0) return new Map()
    const { rows } = await run<{ key: string; sealed: string }>(this.#pool, 'read sealed identifier values',
      `SELECT key, sealed FROM identifiers WHERE key = ANY($1::text[]) AND sealed IS NOT NULL
       UNION ALL SELECT key, sealed FROM identifier_values WHERE key = ANY($1::text[])`, [[...new Set(keys)]])
    return new Map(rows.map((r) => [r.key, r.sealed]))
  }

  async rejections(profileId: string): Promise<readonly RejectedIdentifier[]> {
    const { rows } = await run<{ key: string; message_id: string; reason: RejectionReason; profile_id: string; event_time: string }>(this.#pool,
      'read rejections',
      'SELECT key, message_id, reason, profile_id, event_time FROM identity_rejections WHERE profile_id = $1 ORDER BY seq DESC LIMIT 100', [profileId])
    return rows.map((r) => ({ key: r.key, messageId: r.message_id, reason: r.reason, profileId: r.profile_id, eventTime: num(r.event_time) }))
  }

  async events(profileId: string, options: { limit: number; after?: TimelineCursor }): Promise<TimelinePage> {
    const after = options.after ?? { timestamp: Number.MAX_SAFE_INTEGER, messageId: '' }
    const { rows } = await run<{ message_id: string; source_id: string; type: string; name: string | null; timestamp: string; payload: string }>(
      this.#pool, 'read a timeline',
      // Includes the rows of profiles merged into this one, transitively (see the SQLite reader).
      `WITH RECURSIVE members(id) AS (
         SELECT $1::text COLLATE "C" UNION SELECT p.id FROM profiles p JOIN members m ON p.merged_into = m.id)
       SELECT message_id, source_id, type, name, timestamp, payload FROM profile_events
       WHERE profile_id IN (SELECT id FROM members) AND (timestamp, message_id) < ($2::bigint, $3::text COLLATE "C")
       ORDER BY timestamp DESC, message_id DESC LIMIT $4`, [profileId, after.timestamp, after.messageId, options.limit + 1])
    const page = rows.slice(0, options.limit)
    const last = page[page.length - 1]
    return {
      events: page.map((r) => storedTimelineEntry({ messageId: r.message_id, sourceId: r.source_id, type: r.type, name: r.name, timestamp: num(r.timestamp) }, r.payload)),
      next: rows.length > options.limit && last ? { timestamp: num(last.timestamp), messageId: last.message_id } : null,
    }
  }

  async countProfiles(filter: readonly FilterCondition[], consent: readonly IdentifierCondition[] = []): Promise<number> {
    const params: unknown[] = []
    const where = ['merged_into IS NULL', ...filter.map((c) => postgresCondition(c, params))]
    for (const c of consent) {
      params.push([...new Set(c.keys)])
      const test = c.identifiers === 'none' ? `i.key = ANY($${params.length}::text[])` : `NOT (i.key = ANY($${params.length}::text[]))`
      where.push(`NOT EXISTS (SELECT 1 FROM identifiers i WHERE i.profile_id = profiles.id AND ${test})`)
    }
    const { rows } = await run<{ n: string }>(this.#pool, 'count profiles', `SELECT count(*) AS n FROM profiles WHERE ${where.join(' AND ')}`, params)
    return num(rows[0]!.n)
  }

  async profileTraits(options: { readonly limit: number; readonly afterId?: string }): Promise<ProfileTraitsRow[]> {
    const { rows } = await run<{ id: string; traits: JsonObject; sealed_traits: string | null }>(this.#pool, 'read profile traits',
      'SELECT id, traits, sealed_traits FROM profiles WHERE merged_into IS NULL AND id > $1 ORDER BY id LIMIT $2', [options.afterId ?? '', options.limit])
    return rows.map((r) => ({ id: r.id, traits: r.traits, ...(r.sealed_traits === null ? {} : { sealedTraits: r.sealed_traits }) }))
  }

  async stats(): Promise<{ profiles: number; identifiers: number; events: number; merges: number }> {
    const { rows } = await run<{ profiles: string; identifiers: string; events: string; merges: string }>(this.#pool, 'count the state',
      `SELECT (SELECT count(*) FROM profiles WHERE merged_into IS NULL) AS profiles, (SELECT count(*) FROM identifiers) AS identifiers,
              (SELECT count(*) FROM profile_events) AS events, (SELECT count(*) FROM profile_merges) AS merges`)
    const r = rows[0]!
    return { profiles: num(r.profiles), identifiers: num(r.identifiers), events: num(r.events), merges: num(r.merges) }
  }

  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    await this.#pool.end()
  }
}

const SQL_OPERATOR: Readonly<Record<Exclude<FilterCondition['op'], 'exists'>, string>> = { '=': '=', '!=': '<>', '<': '<', '<=': '<=', '>': '>', '>=': '>=' }

/** One condition as SQL over fixed column names and operators; its values (and the key path, as text[]) are parameters. */
export function postgresCondition(c: FilterCondition, params: unknown[]): string {
  const p = (value: unknown): string => {
    params.push(value)
    return `$${params.length}`
  }
  if (c.column === 'eventCount') {
    if (c.op === 'exists' || typeof c.value !== 'number') throw new Error('eventCount compares with numbers')
    return `event_count ${SQL_OPERATOR[c.op]} ${p(c.value)}::numeric`
  }
  if (c.column !== 'traits') {
    if (c.op === 'exists' || typeof c.value !== 'number') throw new Error('counters compare with numbers')
    const column = c.column === 'eventCounts' ? 'event_counts' : 'source_counts'
    return `coalesce((${column} ->> ${p(c.path[0])}::text)::numeric, 0) ${SQL_OPERATOR[c.op]} ${p(c.value)}::numeric`
  }
  const at = `(traits #> ${p([...c.path])}::text[])`
  if (c.op === 'exists') return `coalesce(jsonb_typeof(${at}), 'null') <> 'null'`
  if (typeof c.value === 'boolean') {
    if (c.op !== '=' && c.op !== '!=') throw new Error('booleans compare with = or !=')
    return `(jsonb_typeof(${at}) = 'boolean' AND ${at} ${SQL_OPERATOR[c.op]} to_jsonb(${p(c.value)}::boolean))`
  }
  if (typeof c.value === 'string') {
    if (c.op !== '=' && c.op !== '!=') throw new Error('text compares with = or !=')
    return `(jsonb_typeof(${at}) = 'string' AND (${at} #>> '{}') ${SQL_OPERATOR[c.op]} ${p(c.value)}::text)`
  }
  if (typeof c.value !== 'number') throw new Error('a trait compares with text, a number or a boolean')
  return `(jsonb_typeof(${at}) = 'number' AND (${at} #>> '{}')::numeric ${SQL_OPERATOR[c.op]} ${p(c.value)}::numeric)`
}
