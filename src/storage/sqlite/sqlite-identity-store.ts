/** @module IdentityStore on SQLite. Batched: each method is one statement over a JSON array of keys. */
import {
  profilePairKey, type GraphGuards, type IdentifierKey, type IdentifierNode, type IdentityChanges, type IdentityEdge,
  type IdentityStore, type LinkRule, type MergeRecord, type QuarantineRecord, type ReviewRecord, type ReviewStatus, type StoredMatchCandidate, type StoredMatchRecord,
  type TimelineRow, type UnmergeRecord,
} from '../../identity/identity-store.js'
import type { SqliteDatabase, SqliteStatement } from './sqlite-database.js'

interface NodeRow { key: string; type: string; value: string; profile_id: string; first_seen: number }
interface QuarantineRow {
  seq: number; key: string; profiles: number; threshold: number; window_ms: number; cause: string; message_id: string; event_time: number
}
interface UnmergeRow {
  seq: number; profile_id: string; kind: 'identifier' | 'edge'; target: string; principal: string; reason: string; result: string; recorded_at: number
}

export function rowToQuarantine(r: QuarantineRow): QuarantineRecord & { seq: number } {
  return {
    seq: Number(r.seq), key: r.key, profiles: Number(r.profiles), threshold: Number(r.threshold), windowMs: Number(r.window_ms),
    cause: r.cause, messageId: r.message_id, time: Number(r.event_time),
  }
}

export function rowToUnmerge(r: { seq: number | string; profile_id: string; kind: 'identifier' | 'edge'; target: string; principal: string; reason: string; result: unknown; recorded_at: number | string }): UnmergeRecord & { seq: number } {
  return {
    seq: Number(r.seq), profileId: r.profile_id, kind: r.kind, target: r.target, principal: r.principal, reason: r.reason,
    result: (typeof r.result === 'string' ? JSON.parse(r.result) : r.result) as UnmergeRecord['result'], time: Number(r.recorded_at),
  }
}

export interface ReviewRow {
  seq: number | string; profile_a: string; profile_b: string; probability: number | string; weight: number | string; message_id: string
  event_time: number | string; status: ReviewStatus; principal: string | null; decided_at: number | string | null
}

export function rowToReview(r: ReviewRow): ReviewRecord {
  return {
    seq: Number(r.seq), profileA: r.profile_a, profileB: r.profile_b, probability: Number(r.probability), weight: Number(r.weight),
    messageId: r.message_id, eventTime: Number(r.event_time), status: r.status, principal: r.principal,
    decidedAt: r.decided_at === null ? null : Number(r.decided_at),
  }
}

const REVIEW_COLUMNS = 'seq, profile_a, profile_b, probability, weight, message_id, event_time, status, principal, decided_at'

export class SqliteIdentityStore implements IdentityStore {
  readonly #matchCandidates: SqliteStatement
  readonly #matchRecords: SqliteStatement
  readonly #dropMatch: SqliteStatement
  readonly #dropMatchKeys: SqliteStatement
  readonly #upsertMatch: SqliteStatement
  readonly #insertMatchKey: SqliteStatement
  readonly #insertReview: SqliteStatement
  readonly #doNotLink: SqliteStatement
  readonly #reviewList: SqliteStatement
  readonly #reviewGet: SqliteStatement
  readonly #reviewDecide: SqliteStatement
  readonly #insertDoNotLink: SqliteStatement
  readonly #lookup: SqliteStatement
  readonly #identifiersOf: SqliteStatement
  readonly #existingEdges: SqliteStatement
  readonly #insertNode: SqliteStatement
  readonly #insertValue: SqliteStatement
  readonly #repoint: SqliteStatement
  readonly #insertEdge: SqliteStatement
  readonly #insertMerge: SqliteStatement
  readonly #insertRejection: SqliteStatement
  readonly #insertContact: SqliteStatement
  readonly #insertQuarantine: SqliteStatement
  readonly #quarantined: SqliteStatement
  readonly #splits: SqliteStatement
  readonly #contacts: SqliteStatement
  readonly #quarantineList: SqliteStatement
  readonly #edgesAmong: SqliteStatement
  readonly #timeline: SqliteStatement
  readonly #moveRow: SqliteStatement
  readonly #insertUnmerge: SqliteStatement
  readonly #insertSplit: SqliteStatement
  readonly #unmerges: SqliteStatement
  readonly #mergeLog: SqliteStatement
  readonly #blockSizes: SqliteStatement
  readonly #insertReviewSplit: SqliteStatement
  readonly #reviewGetRejected: SqliteStatement
  readonly #reviewReopen: SqliteStatement
  readonly #dropReviewSplits: SqliteStatement
  readonly #dropDoNotLink: SqliteStatement

  constructor(db: SqliteDatabase) {
    this.#blockSizes = db.prepare(
      `SELECT q.value AS key, (SELECT count(*) FROM (SELECT 1 FROM identity_match_keys AS c WHERE c.key = q.value LIMIT @cap + 1)) AS n
       FROM json_each(@keys) AS q`,
    )
    this.#mergeLog = db.prepare(
      `SELECT winner, loser, message_id, rule, event_time FROM profile_merges
       WHERE winner IN (SELECT value FROM json_each(@ids)) OR loser IN (SELECT value FROM json_each(@ids)) ORDER BY seq`,
    )
    this.#insertReviewSplit = db.prepare('INSERT OR IGNORE INTO identity_splits (a, b, unmerge_seq, review_seq) VALUES (?, ?, 0, ?)')
    this.#reviewGetRejected = db.prepare(`SELECT ${REVIEW_COLUMNS} FROM identity_review WHERE seq = ? AND status = 'rejected'`)
    this.#reviewReopen = db.prepare(`UPDATE identity_review SET status = 'open', principal = NULL, decided_at = NULL WHERE seq = ?`)
    this.#dropReviewSplits = db.prepare('DELETE FROM identity_splits WHERE review_seq = ?')
    this.#dropDoNotLink = db.prepare('DELETE FROM identity_do_not_link WHERE review_seq = ?')
    // Driven from the keys (CROSS JOIN fixes the join order): each key probes the primary key, never a scan.
    this.#matchCandidates = db.prepare(
      `SELECT r.profile_id, r.fields, json_group_array(q.key) AS keys FROM json_each(@keys) AS q
       CROSS JOIN identity_match_keys AS k ON k.key = q.value
       CROSS JOIN identity_match_records AS r ON r.profile_id = k.profile_id
       WHERE (SELECT count(*) FROM (SELECT 1 FROM identity_match_keys AS c WHERE c.key = q.value LIMIT @cap + 1)) <= @cap
       GROUP BY r.profile_id`,
    )
    this.#matchRecords = db.prepare('SELECT profile_id, fields FROM identity_match_records WHERE profile_id IN (SELECT value FROM json_each(?))')
    this.#dropMatch = db.prepare('DELETE FROM identity_match_records WHERE profile_id = ?')
    this.#dropMatchKeys = db.prepare('DELETE FROM identity_match_keys WHERE profile_id = ?')
    this.#upsertMatch = db.prepare(
      `INSERT INTO identity_match_records (profile_id, fields, updated_at) VALUES (?, ?, ?)
       ON CONFLICT(profile_id) DO UPDATE SET fields = excluded.fields, updated_at = excluded.updated_at`,
    )
    this.#insertMatchKey = db.prepare('INSERT OR IGNORE INTO identity_match_keys (key, profile_id) VALUES (?, ?)')
    this.#insertReview = db.prepare(
      `INSERT INTO identity_review (profile_a, profile_b, probability, weight, message_id, event_time, status, recorded_at)
       VALUES (?, ?, ?, ?, ?, ?, 'open', ?)`,
    )
    this.#doNotLink = db.prepare(
      `SELECT a, b FROM identity_do_not_link WHERE a IN (SELECT value FROM json_each(@ids)) OR b IN (SELECT value FROM json_each(@ids))`,
    )
    this.#reviewList = db.prepare(
      `SELECT ${REVIEW_COLUMNS} FROM identity_review WHERE seq > @after AND (@status IS NULL OR status = @status) ORDER BY seq LIMIT @limit`,
    )
    this.#reviewGet = db.prepare(`SELECT ${REVIEW_COLUMNS} FROM identity_review WHERE seq = ? AND status = 'open'`)
    this.#reviewDecide = db.prepare(`UPDATE identity_review SET status = ?, principal = ?, decided_at = ? WHERE seq = ? AND status = 'open'`)
    this.#insertDoNotLink = db.prepare('INSERT OR IGNORE INTO identity_do_not_link (a, b, review_seq) VALUES (?, ?, ?)')
    this.#lookup = db.prepare('SELECT key, profile_id FROM identifiers WHERE key IN (SELECT value FROM json_each(?))')
    this.#identifiersOf = db.prepare(
      'SELECT key, type, value, profile_id, first_seen FROM identifiers WHERE profile_id IN (SELECT value FROM json_each(?))',
    )
    this.#existingEdges = db.prepare('SELECT pair FROM identity_edges WHERE pair IN (SELECT value FROM json_each(?))')
    this.#insertNode = db.prepare(
      `INSERT INTO identifiers (key, type, value, profile_id, first_seen, sealed) VALUES (?, ?, ?, ?, ?, ?)
       ON CONFLICT(key) DO UPDATE SET profile_id = excluded.profile_id`,
    )
    this.#insertValue = db.prepare('INSERT OR IGNORE INTO identifier_values (key, sealed) VALUES (?, ?)')
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
    this.#insertContact = db.prepare(
      `INSERT INTO identity_contacts (key, profile_id, last_at) VALUES (?, ?, ?)
       ON CONFLICT(key, profile_id) DO UPDATE SET last_at = max(last_at, excluded.last_at)`,
    )
    this.#insertQuarantine = db.prepare(
      `INSERT OR IGNORE INTO identity_quarantine (key, profiles, threshold, window_ms, cause, message_id, event_time, recorded_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
    )
    this.#quarantined = db.prepare('SELECT key FROM identity_quarantine WHERE key IN (SELECT value FROM json_each(?))')
    this.#splits = db.prepare('SELECT a, b FROM identity_splits WHERE a IN (SELECT value FROM json_each(?))')
    this.#contacts = db.prepare(
      `SELECT c.key, c.profile_id FROM identity_contacts c
       JOIN (SELECT json_extract(value, '$[0]') AS key, json_extract(value, '$[1]') AS since FROM json_each(?)) q
         ON c.key = q.key AND c.last_at >= q.since`,
    )
    this.#quarantineList = db.prepare(
      `SELECT seq, key, profiles, threshold, window_ms, cause, message_id, event_time FROM identity_quarantine
       WHERE seq > ? ORDER BY seq DESC LIMIT ?`,
    )
    this.#edgesAmong = db.prepare(
      `SELECT from_key, to_key, rule, message_id, source_id, event_time, confidence FROM identity_edges
       WHERE from_key IN (SELECT value FROM json_each(@keys)) AND to_key IN (SELECT value FROM json_each(@keys)) ORDER BY seq`,
    )
    this.#timeline = db.prepare(
      `SELECT profile_id, message_id, source_id, timestamp, payload FROM profile_events
       WHERE profile_id IN (SELECT value FROM json_each(?)) ORDER BY timestamp, message_id`,
    )
    this.#moveRow = db.prepare('UPDATE OR IGNORE profile_events SET profile_id = ? WHERE profile_id = ? AND message_id = ? AND source_id = ?')
    this.#insertUnmerge = db.prepare(
      `INSERT INTO identity_unmerges (profile_id, kind, target, principal, reason, result, recorded_at)
       VALUES (?, ?, ?, ?, ?, ?, ?)`,
    )
    this.#insertSplit = db.prepare('INSERT OR IGNORE INTO identity_splits (a, b, unmerge_seq) VALUES (?, ?, ?)')
    this.#unmerges = db.prepare(
      `SELECT seq, profile_id, kind, target, principal, reason, result, recorded_at FROM identity_unmerges
       WHERE profile_id = @id OR EXISTS (SELECT 1 FROM json_each(result) WHERE json_extract(value, '$.profileId') = @id) ORDER BY seq`,
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
    // A new identifier keeps its sealed value in its row; a refused key that is no identifier, in identifier_values.
    const sealed = new Map((changes.values ?? []).map((v) => [v.key, v.sealed]))
    for (const n of changes.nodes) {
      this.#insertNode.run(n.key, n.type, n.value, n.profileId, n.firstSeen, sealed.get(n.key) ?? null)
      sealed.delete(n.key)
    }
    for (const [key, value] of sealed) this.#insertValue.run(key, value)
    for (const e of changes.edges) {
      const pair = e.from < e.to ? `${e.from}|${e.to}` : `${e.to}|${e.from}`
      this.#insertEdge.run(pair, e.from, e.to, e.rule, e.messageId, e.sourceId, e.eventTime, e.confidence, now)
    }
    for (const m of changes.merges) this.#insertMerge.run(m.winner, m.loser, m.messageId, m.rule, m.eventTime, now)
    for (const r of changes.rejections) this.#insertRejection.run(r.key, r.messageId, r.reason, r.profileId, r.eventTime, now)
    for (const c of changes.contacts ?? []) this.#insertContact.run(c.key, c.profileId, c.time)
    for (const q of changes.quarantines ?? []) {
      this.#insertQuarantine.run(q.key, q.profiles, q.threshold, q.windowMs, q.cause, q.messageId, q.time, now)
    }
    // A merged-away profile leaves the blocking index (the winner keeps its own record).
    for (const { from } of changes.repoints) {
      this.#dropMatch.run(from)
      this.#dropMatchKeys.run(from)
    }
    for (const r of changes.matchRecords ?? []) {
      this.#dropMatchKeys.run(r.profileId)
      this.#upsertMatch.run(r.profileId, r.fields, now)
      for (const key of r.keys) this.#insertMatchKey.run(key, r.profileId)
    }
    for (const r of changes.reviews ?? []) {
      this.#insertReview.run(r.profileA, r.profileB, r.probability, r.weight, r.messageId, r.eventTime, now)
    }
  }

  async matchCandidates(keys: readonly string[], maxBlockSize: number): Promise<StoredMatchCandidate[]> {
    if (keys.length === 0) return []
    const asked = [...new Set(keys)]
    // The found keys come back as their indexes in `asked` (json_each's key column), so no key string is read back.
    const rows = this.#matchCandidates.all({ keys: JSON.stringify(asked), cap: maxBlockSize }) as { profile_id: string; fields: string; keys: string }[]
    return rows.map((r) => ({ profileId: r.profile_id, fields: r.fields, keys: (JSON.parse(r.keys) as number[]).map((i) => asked[i]!) }))
  }

  async matchRecords(profileIds: readonly string[]): Promise<StoredMatchRecord[]> {
    if (profileIds.length === 0) return []
    const rows = this.#matchRecords.all(JSON.stringify(profileIds)) as { profile_id: string; fields: string }[]
    return rows.map((r) => ({ profileId: r.profile_id, fields: r.fields }))
  }

  async doNotLink(profileIds: readonly string[]): Promise<Set<string>> {
    if (profileIds.length === 0) return new Set()
    const rows = this.#doNotLink.all({ ids: JSON.stringify(profileIds) }) as { a: string; b: string }[]
    return new Set(rows.map((r) => profilePairKey(r.a, r.b)))
  }

  async reviewList(options: { readonly limit: number; readonly afterSeq?: number; readonly status?: ReviewStatus }): Promise<ReviewRecord[]> {
    const rows = this.#reviewList.all({ after: options.afterSeq ?? 0, status: options.status ?? null, limit: options.limit }) as ReviewRow[]
    return rows.map(rowToReview)
  }

  async decideReview(seq: number, status: 'accepted' | 'rejected', principal: string, time: number): Promise<ReviewRecord | null> {
    const row = this.#reviewGet.get(seq) as ReviewRow | undefined
    if (!row) return null
    this.#reviewDecide.run(status, principal, time, seq)
    if (status === 'rejected') {
      const [a, b] = row.profile_a < row.profile_b ? [row.profile_a, row.profile_b] : [row.profile_b, row.profile_a]
      this.#insertDoNotLink.run(a, b, seq)
    }
    return rowToReview(row)
  }

  async guards(keys: readonly IdentifierKey[]): Promise<GraphGuards> {
    if (keys.length === 0) return { quarantined: new Set(), splits: new Map() }
    const json = JSON.stringify(keys)
    const quarantined = new Set((this.#quarantined.all(json) as { key: string }[]).map((r) => r.key))
    const splits = new Map<IdentifierKey, Set<IdentifierKey>>()
    for (const { a, b } of this.#splits.all(json) as { a: string; b: string }[]) {
      const set = splits.get(a) ?? new Set<IdentifierKey>()
      set.add(b)
      splits.set(a, set)
    }
    return { quarantined, splits }
  }

  async contacts(queries: readonly { readonly key: IdentifierKey; readonly since: number }[]): Promise<Map<IdentifierKey, Set<string>>> {
    const out = new Map<IdentifierKey, Set<string>>()
    if (queries.length === 0) return out
    for (const r of this.#contacts.all(JSON.stringify(queries.map((q) => [q.key, q.since]))) as { key: string; profile_id: string }[]) {
      const set = out.get(r.key) ?? new Set<string>()
      set.add(r.profile_id)
      out.set(r.key, set)
    }
    return out
  }

  async quarantineList(options: { readonly limit: number; readonly afterSeq?: number }): Promise<(QuarantineRecord & { readonly seq: number })[]> {
    return (this.#quarantineList.all(options.afterSeq ?? 0, options.limit) as QuarantineRow[]).map(rowToQuarantine)
  }

  async edgesAmong(keys: readonly IdentifierKey[]): Promise<IdentityEdge[]> {
    if (keys.length === 0) return []
    const rows = this.#edgesAmong.all({ keys: JSON.stringify(keys) }) as {
      from_key: string; to_key: string; rule: LinkRule; message_id: string; source_id: string; event_time: number; confidence: number
    }[]
    return rows.map((r) => ({
      from: r.from_key, to: r.to_key, rule: r.rule, messageId: r.message_id, sourceId: r.source_id, eventTime: r.event_time, confidence: r.confidence,
    }))
  }

  async timeline(profileIds: readonly string[]): Promise<TimelineRow[]> {
    if (profileIds.length === 0) return []
    const rows = this.#timeline.all(JSON.stringify(profileIds)) as { profile_id: string; message_id: string; source_id: string; timestamp: number; payload: string }[]
    return rows.map((r) => ({ profileId: r.profile_id, messageId: r.message_id, sourceId: r.source_id, timestamp: r.timestamp, payload: r.payload }))
  }

  async moveTimelineRows(moves: readonly { readonly from: string; readonly to: string; readonly messageId: string; readonly sourceId: string }[]): Promise<void> {
    for (const m of moves) this.#moveRow.run(m.to, m.from, m.messageId, m.sourceId)
  }

  async recordUnmerge(record: UnmergeRecord, splits: readonly (readonly [IdentifierKey, IdentifierKey])[]): Promise<number> {
    const info = this.#insertUnmerge.run(record.profileId, record.kind, record.target, record.principal, record.reason, JSON.stringify(record.result), record.time) as unknown as { lastInsertRowid: number | bigint }
    const seq = Number(info.lastInsertRowid)
    for (const [a, b] of splits) {
      this.#insertSplit.run(a, b, seq)
      this.#insertSplit.run(b, a, seq)
    }
    return seq
  }

  async unmerges(profileId: string): Promise<(UnmergeRecord & { readonly seq: number })[]> {
    return (this.#unmerges.all({ id: profileId }) as UnmergeRow[]).map(rowToUnmerge)
  }

  async matchBlockSizes(keys: readonly string[], cap: number): Promise<Map<string, number>> {
    if (keys.length === 0) return new Map()
    return new Map((this.#blockSizes.all({ keys: JSON.stringify(keys), cap }) as { key: string; n: number }[]).map((r) => [r.key, Number(r.n)]))
  }

  async mergeLog(profileIds: readonly string[]): Promise<MergeRecord[]> {
    if (profileIds.length === 0) return []
    const rows = this.#mergeLog.all({ ids: JSON.stringify(profileIds) }) as { winner: string; loser: string; message_id: string; rule: LinkRule; event_time: number }[]
    return rows.map((r) => ({ winner: r.winner, loser: r.loser, messageId: r.message_id, rule: r.rule, eventTime: Number(r.event_time) }))
  }

  async recordReviewSplits(reviewSeq: number, pairs: readonly (readonly [IdentifierKey, IdentifierKey])[]): Promise<void> {
    for (const [a, b] of pairs) {
      this.#insertReviewSplit.run(a, b, reviewSeq)
      this.#insertReviewSplit.run(b, a, reviewSeq)
    }
  }

  async reopenReview(seq: number): Promise<ReviewRecord | null> {
    const row = this.#reviewGetRejected.get(seq) as ReviewRow | undefined
    if (!row) return null
    this.#reviewReopen.run(seq)
    this.#dropReviewSplits.run(seq)
    this.#dropDoNotLink.run(seq)
    return rowToReview(row)
  }
}
