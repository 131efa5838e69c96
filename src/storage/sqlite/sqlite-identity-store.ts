/** @module IdentityStore on SQLite. Batched: each method is one statement over a JSON array of keys. */
import type {
  IdentifierKey, IdentifierNode, IdentityChanges, IdentityStore,
} from '../../identity/identity-store.js'
import type { SqliteDatabase, SqliteStatement } from './sqlite-database.js'

interface NodeRow { key: string; type: string; value: string; profile_id: string; first_seen: number }

export class SqliteIdentityStore implements IdentityStore {
  readonly #lookup: SqliteStatement
  readonly #identifiersOf: SqliteStatement
  readonly #existingEdges: SqliteStatement
  readonly #insertNode: SqliteStatement
  readonly #repoint: SqliteStatement
  readonly #insertEdge: SqliteStatement
  readonly #insertMerge: SqliteStatement
  readonly #insertRejection: SqliteStatement

  constructor(db: SqliteDatabase) {
    this.#lookup = db.prepare('SELECT key, profile_id FROM identifiers WHERE key IN (SELECT value FROM json_each(?))')
    this.#identifiersOf = db.prepare(
      'SELECT key, type, value, profile_id, first_seen FROM identifiers WHERE profile_id IN (SELECT value FROM json_each(?))',
    )
    this.#existingEdges = db.prepare('SELECT pair FROM identity_edges WHERE pair IN (SELECT value FROM json_each(?))')
    this.#insertNode = db.prepare(
      `INSERT INTO identifiers (key, type, value, profile_id, first_seen) VALUES (?, ?, ?, ?, ?)
       ON CONFLICT(key) DO UPDATE SET profile_id = excluded.profile_id`,
    )
    this.#repoint = db.prepare('UPDATE identifiers SET profile_id = ? WHERE profile_id = ?')
    this.#insertEdge = db.prepare(
      `INSERT OR IGNORE INTO identity_edges (pair, from_key, to_key, rule, message_id, source_id, event_time, confidence, recorded_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    )
    this.#insertMerge = db.prepare(
      'INSERT INTO profile_merges (winner, loser, message_id, rule, event_time, recorded_at) VALUES (?, ?, ?, ?, ?, ?)',
    )
    this.#insertRejection = db.prepare(
      'INSERT INTO identity_rejections (key, message_id, reason, profile_id, event_time, recorded_at) VALUES (?, ?, ?, ?, ?, ?)',
    )
  }

  async lookup(keys: readonly IdentifierKey[]): Promise<Map<IdentifierKey, string>> {
    const out = new Map<IdentifierKey, string>()
    if (keys.length === 0) return out
    for (const row of this.#lookup.all(JSON.stringify(keys)) as { key: string; profile_id: string }[]) {
      out.set(row.key, row.profile_id)
    }
    return out
  }

  async identifiersOf(profileIds: readonly string[]): Promise<Map<string, IdentifierNode[]>> {
    const out = new Map<string, IdentifierNode[]>()
    if (profileIds.length === 0) return out
    for (const row of this.#identifiersOf.all(JSON.stringify(profileIds)) as NodeRow[]) {
      const list = out.get(row.profile_id) ?? []
      list.push({ key: row.key, type: row.type, value: row.value, profileId: row.profile_id, firstSeen: row.first_seen })
      out.set(row.profile_id, list)
    }
    return out
  }

  async existingEdges(pairs: readonly string[]): Promise<Set<string>> {
    if (pairs.length === 0) return new Set()
    return new Set((this.#existingEdges.all(JSON.stringify(pairs)) as { pair: string }[]).map((r) => r.pair))
  }

  async apply(changes: IdentityChanges): Promise<void> {
    const now = Date.now()
    for (const { from, to } of changes.repoints) this.#repoint.run(to, from)
    for (const n of changes.nodes) this.#insertNode.run(n.key, n.type, n.value, n.profileId, n.firstSeen)
    for (const e of changes.edges) {
      const pair = e.from < e.to ? `${e.from}|${e.to}` : `${e.to}|${e.from}`
      this.#insertEdge.run(pair, e.from, e.to, e.rule, e.messageId, e.sourceId, e.eventTime, e.confidence, now)
    }
    for (const m of changes.merges) this.#insertMerge.run(m.winner, m.loser, m.messageId, m.rule, m.eventTime, now)
    for (const r of changes.rejections) this.#insertRejection.run(r.key, r.messageId, r.reason, r.profileId, r.eventTime, now)
  }
}
