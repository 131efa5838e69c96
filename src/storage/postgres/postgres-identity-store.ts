/**
 * @module IdentityStore on PostgreSQL. Batched: each method is one statement over arrays (`= ANY($1)`,
 * `unnest(...)`), whatever the batch size.
 *
 * Concurrency (two pipeline workers merging overlapping components at once): {@link PostgresIdentityStore.lookup}
 * runs `tessera_lookup_identifiers` (postgres-migrations.ts), which takes transaction-scoped advisory locks,
 * first on every identifier key of the batch (in hash order), then on every profile owning one of them (in hash
 * order), and re-reads the owners until no concurrent merge moved them. A worker only ever attaches identifiers
 * to, merges or repoints profiles it reached through a key it looked up, so two batches that share a key or a
 * profile run their identity work one after the other, and the second one sees the first one's commit (READ
 * COMMITTED reads the latest committed rows per statement). Disjoint batches never wait for each other.
 * Taking the key locks and then the profile locks in a global order cannot deadlock; the rare re-read after a
 * concurrent merge locks the new owner out of order and can, and PostgreSQL then aborts one transaction with
 * SQLSTATE 40P01, which `PostgresStateBackend.transaction` retries with jitter.
 * We chose advisory locks over `SELECT ... FOR UPDATE` because most keys of a batch are new (no row to lock
 * yet), and over SERIALIZABLE because predicate locks over 2,000-key batches escalate to whole-relation locks
 * and would make every pair of concurrent batches conflict.
 *
 * An unmerge (admin API) reaches the component through `lookup` of all its keys, so it takes the same locks as
 * the batches and runs strictly before or after any batch touching that component.
 */
import type {
  GraphGuards, IdentifierKey, IdentifierNode, IdentityChanges, IdentityEdge, IdentityStore, LinkRule, MergeRecord, QuarantineRecord,
  ReviewRecord, ReviewStatus, StoredMatchCandidate, StoredMatchRecord, TimelineRow, UnmergeRecord,
} from '../../identity/identity-store.js'
import { edgePairKey, profilePairKey } from '../../identity/identity-store.js'
import { rowToQuarantine, rowToReview, rowToUnmerge, type ReviewRow } from '../sqlite/sqlite-identity-store.js'

const REVIEW_COLUMNS = 'seq, profile_a, profile_b, probability, weight, message_id, event_time, status, principal, decided_at'
import type { PostgresQueryable } from './postgres-pool.js'
import { composeMoves, lastWinsSorted, num, run } from './postgres-query.js'

interface NodeRow { key: string; type: string; value: string; profile_id: string; first_seen: string | number }

export function rowToNode(row: NodeRow): IdentifierNode {
  return { key: row.key, type: row.type, value: row.value, profileId: row.profile_id, firstSeen: num(row.first_seen) }
}

export class PostgresIdentityStore implements IdentityStore {
  readonly #db: PostgresQueryable

  /** @param db the client of the current transaction (the locks taken by `lookup` last until it ends). */
  constructor(db: PostgresQueryable) {
    this.#db = db
  }

  /** The owners of `keys`, after locking the keys and their owners for the rest of the transaction. */
  async lookup(keys: readonly IdentifierKey[]): Promise<Map<IdentifierKey, string>> {
    const out = new Map<IdentifierKey, string>()
    if (keys.length === 0) return out
    const { rows } = await run<{ out_key: string; out_profile: string }>(this.#db, 'look up identifiers',
      'SELECT out_key, out_profile FROM tessera_lookup_identifiers($1::text[])', [[...keys]])
    for (const row of rows) out.set(row.out_key, row.out_profile)
    return out
  }

  async identifiersOf(profileIds: readonly string[]): Promise<Map<string, IdentifierNode[]>> {
    const out = new Map<string, IdentifierNode[]>()
    if (profileIds.length === 0) return out
    const { rows } = await run<NodeRow>(this.#db, 'read the identifiers of profiles',
      'SELECT key, type, value, profile_id, first_seen FROM identifiers WHERE profile_id = ANY ($1::text[])', [[...profileIds]])
    for (const row of rows) {
      const list = out.get(row.profile_id) ?? []
      list.push(rowToNode(row))
      out.set(row.profile_id, list)
    }
    return out
  }

  async existingEdges(pairs: readonly string[]): Promise<Set<string>> {
    if (pairs.length === 0) return new Set()
    const { rows } = await run<{ pair: string }>(this.#db, 'read identity edges',
      'SELECT pair FROM identity_edges WHERE pair = ANY ($1::text[])', [[...pairs]])
    return new Set(rows.map((r) => r.pair))
  }

  /** Repoints, then nodes, edges, merges and rejections: at most five statements per batch. */
  async apply(changes: IdentityChanges): Promise<void> {
    const now = Date.now()
    if (changes.repoints.length > 0) {
      const { src, dst } = composeMoves(changes.repoints)
      await run(this.#db, 'repoint merged identifiers',
        `UPDATE identifiers AS i SET profile_id = m.dst FROM unnest($1::text[], $2::text[]) AS m (src, dst)
         WHERE i.profile_id = m.src`, [src, dst])
    }
    // A new identifier keeps its sealed value in its row; a refused key that is no identifier, in identifier_values.
    const sealed = new Map((changes.values ?? []).map((v) => [v.key, v.sealed]))
    if (changes.nodes.length > 0) {
      const nodes = lastWinsSorted(changes.nodes, (n) => n.key)
      await run(this.#db, 'write identifiers',
        `INSERT INTO identifiers (key, type, value, profile_id, first_seen, sealed)
         SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::bigint[], $6::text[])
         ON CONFLICT (key) DO UPDATE SET profile_id = excluded.profile_id`,
        [nodes.map((n) => n.key), nodes.map((n) => n.type), nodes.map((n) => n.value), nodes.map((n) => n.profileId),
          nodes.map((n) => n.firstSeen), nodes.map((n) => sealed.get(n.key) ?? null)])
      for (const n of nodes) sealed.delete(n.key)
    }
    const values = [...sealed].map(([key, value]) => ({ key, sealed: value }))
    if (values.length > 0) {
      const sorted = lastWinsSorted(values, (v) => v.key)
      await run(this.#db, 'write sealed identifier values',
        `INSERT INTO identifier_values (key, sealed) SELECT * FROM unnest($1::text[], $2::text[]) ON CONFLICT (key) DO NOTHING`,
        [sorted.map((v) => v.key), sorted.map((v) => v.sealed)])
    }
    const edges = changes.edges
    if (edges.length > 0) {
      await run(this.#db, 'append identity edges',
        `INSERT INTO identity_edges (pair, from_key, to_key, rule, message_id, source_id, event_time, confidence, recorded_at)
         SELECT e.pair, e.from_key, e.to_key, e.rule, e.message_id, e.source_id, e.event_time, e.confidence, $9::bigint
         FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::bigint[], $8::float8[])
           WITH ORDINALITY AS e (pair, from_key, to_key, rule, message_id, source_id, event_time, confidence, n)
         ORDER BY e.n
         ON CONFLICT (pair) DO NOTHING`,
        [edges.map((e) => edgePairKey(e.from, e.to)), edges.map((e) => e.from), edges.map((e) => e.to), edges.map((e) => e.rule),
          edges.map((e) => e.messageId), edges.map((e) => e.sourceId), edges.map((e) => e.eventTime), edges.map((e) => e.confidence), now])
    }
    const merges = changes.merges
    if (merges.length > 0) {
      await run(this.#db, 'append profile merges',
        `INSERT INTO profile_merges (winner, loser, message_id, rule, event_time, recorded_at)
         SELECT m.winner, m.loser, m.message_id, m.rule, m.event_time, $6::bigint
         FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::bigint[]) WITH ORDINALITY AS m (winner, loser, message_id, rule, event_time, n)
         ORDER BY m.n`,
        [merges.map((m) => m.winner), merges.map((m) => m.loser), merges.map((m) => m.messageId), merges.map((m) => m.rule),
          merges.map((m) => m.eventTime), now])
    }
    const rejections = changes.rejections
    if (rejections.length > 0) {
      await run(this.#db, 'append identity rejections',
        `INSERT INTO identity_rejections (key, message_id, reason, profile_id, event_time, recorded_at)
         SELECT r.key, r.message_id, r.reason, r.profile_id, r.event_time, $6::bigint
         FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::bigint[]) WITH ORDINALITY AS r (key, message_id, reason, profile_id, event_time, n)
         ORDER BY r.n`,
        [rejections.map((r) => r.key), rejections.map((r) => r.messageId), rejections.map((r) => r.reason),
          rejections.map((r) => r.profileId), rejections.map((r) => r.eventTime), now])
    }
    const contacts = changes.contacts ?? []
    if (contacts.length > 0) {
      const latest = new Map<string, { key: string; profileId: string; time: number }>()
      for (const c of contacts) {
        const k = `${c.key}\u0000${c.profileId}`
        const held = latest.get(k)
        if (!held || held.time < c.time) latest.set(k, c)
      }
      const rows = [...latest.values()].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : a.profileId < b.profileId ? -1 : 1))
      await run(this.#db, 'record identifier contacts',
        `INSERT INTO identity_contacts (key, profile_id, last_at)
         SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[])
         ON CONFLICT (key, profile_id) DO UPDATE SET last_at = greatest(identity_contacts.last_at, excluded.last_at)`,
        [rows.map((r) => r.key), rows.map((r) => r.profileId), rows.map((r) => r.time)])
    }
    const quarantines = changes.quarantines ?? []
    if (quarantines.length > 0) {
      await run(this.#db, 'quarantine identifiers',
        `INSERT INTO identity_quarantine (key, profiles, threshold, window_ms, cause, message_id, event_time, recorded_at)
         SELECT q.*, $8::bigint FROM unnest($1::text[], $2::int[], $3::int[], $4::bigint[], $5::text[], $6::text[], $7::bigint[])
           AS q (key, profiles, threshold, window_ms, cause, message_id, event_time)
         ON CONFLICT (key) DO NOTHING`,
        [quarantines.map((q) => q.key), quarantines.map((q) => q.profiles), quarantines.map((q) => q.threshold),
          quarantines.map((q) => q.windowMs), quarantines.map((q) => q.cause), quarantines.map((q) => q.messageId),
          quarantines.map((q) => q.time), now])
    }
    // A merged-away profile leaves the blocking index (the winner keeps its own record).
    const records = lastWinsSorted(changes.matchRecords ?? [], (r) => r.profileId)
    const dropped = [...new Set([...changes.repoints.map((r) => r.from), ...records.map((r) => r.profileId)])]
    if (dropped.length > 0) {
      await run(this.#db, 'drop stale blocking keys', 'DELETE FROM identity_match_keys WHERE profile_id = ANY ($1::text[])', [dropped])
    }
    if (changes.repoints.length > 0) {
      await run(this.#db, 'drop merged match records', 'DELETE FROM identity_match_records WHERE profile_id = ANY ($1::text[])',
        [changes.repoints.map((r) => r.from)])
    }
    if (records.length > 0) {
      await run(this.#db, 'write match records',
        `INSERT INTO identity_match_records (profile_id, fields, updated_at) SELECT p, f, $3::bigint FROM unnest($1::text[], $2::text[]) AS r (p, f)
         ON CONFLICT (profile_id) DO UPDATE SET fields = excluded.fields, updated_at = excluded.updated_at`,
        [records.map((r) => r.profileId), records.map((r) => r.fields), now])
      const keys = records.flatMap((r) => [...new Set(r.keys)].map((k) => [k, r.profileId] as const))
        .sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : a[1] < b[1] ? -1 : 1))
      if (keys.length > 0) {
        await run(this.#db, 'write blocking keys',
          `INSERT INTO identity_match_keys (key, profile_id) SELECT * FROM unnest($1::text[], $2::text[]) ON CONFLICT DO NOTHING`,
          [keys.map((k) => k[0]), keys.map((k) => k[1])])
      }
    }
    const reviews = changes.reviews ?? []
    if (reviews.length > 0) {
      await run(this.#db, 'queue match reviews',
        `INSERT INTO identity_review (profile_a, profile_b, probability, weight, message_id, event_time, status, recorded_at)
         SELECT r.a, r.b, r.p, r.w, r.m, r.t, 'open', $7::bigint
         FROM unnest($1::text[], $2::text[], $3::float8[], $4::float8[], $5::text[], $6::bigint[]) WITH ORDINALITY AS r (a, b, p, w, m, t, n)
         ORDER BY r.n`,
        [reviews.map((r) => r.profileA), reviews.map((r) => r.profileB), reviews.map((r) => r.probability), reviews.map((r) => r.weight),
          reviews.map((r) => r.messageId), reviews.map((r) => r.eventTime), now])
    }
  }

  async matchCandidates(keys: readonly string[], maxBlockSize: number): Promise<StoredMatchCandidate[]> {
    if (keys.length === 0) return []
    const { rows } = await run<{ profile_id: string; fields: string; keys: string[] }>(this.#db, 'look up match candidates',
      `SELECT r.profile_id, r.fields, array_agg(q.key) AS keys
       FROM (SELECT DISTINCT key FROM unnest($1::text[]) AS u (key)) AS q
       CROSS JOIN LATERAL (SELECT k.profile_id FROM identity_match_keys k WHERE k.key = q.key LIMIT $2::int + 1) AS b
       JOIN identity_match_records r ON r.profile_id = b.profile_id
       WHERE (SELECT count(*) FROM (SELECT 1 FROM identity_match_keys k2 WHERE k2.key = q.key LIMIT $2::int + 1) AS c) <= $2::int
       GROUP BY r.profile_id`,
      [[...keys], maxBlockSize])
    return rows.map((r) => ({ profileId: r.profile_id, fields: r.fields, keys: r.keys }))
  }

  async matchRecords(profileIds: readonly string[]): Promise<StoredMatchRecord[]> {
    if (profileIds.length === 0) return []
    const { rows } = await run<{ profile_id: string; fields: string }>(this.#db, 'read match records',
      'SELECT profile_id, fields FROM identity_match_records WHERE profile_id = ANY ($1::text[])', [[...profileIds]])
    return rows.map((r) => ({ profileId: r.profile_id, fields: r.fields }))
  }

  async doNotLink(profileIds: readonly string[]): Promise<Set<string>> {
    if (profileIds.length === 0) return new Set()
    const { rows } = await run<{ a: string; b: string }>(this.#db, 'read do-not-link pairs',
      'SELECT a, b FROM identity_do_not_link WHERE a = ANY ($1::text[]) OR b = ANY ($1::text[])', [[...profileIds]])
    return new Set(rows.map((r) => profilePairKey(r.a, r.b)))
  }

  async reviewList(options: { readonly limit: number; readonly afterSeq?: number; readonly status?: ReviewStatus }): Promise<ReviewRecord[]> {
    const { rows } = await run<ReviewRow>(this.#db, 'list match reviews',
      `SELECT ${REVIEW_COLUMNS} FROM identity_review WHERE seq > $1::bigint AND ($2::text IS NULL OR status = $2::text) ORDER BY seq LIMIT $3::int`,
      [options.afterSeq ?? 0, options.status ?? null, options.limit])
    return rows.map(rowToReview)
  }

  async decideReview(seq: number, status: 'accepted' | 'rejected', principal: string, time: number): Promise<ReviewRecord | null> {
    const { rows } = await run<ReviewRow>(this.#db, 'decide a match review',
      `UPDATE identity_review n SET status = $2::text, principal = $3::text, decided_at = $4::bigint
       FROM identity_review o WHERE n.seq = o.seq AND n.seq = $1::bigint AND o.status = 'open'
       RETURNING o.seq, o.profile_a, o.profile_b, o.probability, o.weight, o.message_id, o.event_time, o.status, o.principal, o.decided_at`,
      [seq, status, principal, time])
    const row = rows[0]
    if (!row) return null
    if (status === 'rejected') {
      const [a, b] = row.profile_a < row.profile_b ? [row.profile_a, row.profile_b] : [row.profile_b, row.profile_a]
      await run(this.#db, 'record a do-not-link pair',
        'INSERT INTO identity_do_not_link (a, b, review_seq) VALUES ($1, $2, $3::bigint) ON CONFLICT DO NOTHING', [a, b, seq])
    }
    return rowToReview(row)
  }

  async guards(keys: readonly IdentifierKey[]): Promise<GraphGuards> {
    if (keys.length === 0) return { quarantined: new Set(), splits: new Map() }
    const { rows } = await run<{ kind: string; a: string; b: string | null }>(this.#db, 'read identity guards',
      `SELECT 'q' AS kind, key AS a, NULL AS b FROM identity_quarantine WHERE key = ANY ($1::text[])
       UNION ALL SELECT 's', a, b FROM identity_splits WHERE a = ANY ($1::text[])`, [[...keys]])
    const quarantined = new Set<IdentifierKey>()
    const splits = new Map<IdentifierKey, Set<IdentifierKey>>()
    for (const r of rows) {
      if (r.kind === 'q') quarantined.add(r.a)
      else {
        const set = splits.get(r.a) ?? new Set<IdentifierKey>()
        set.add(r.b!)
        splits.set(r.a, set)
      }
    }
    return { quarantined, splits }
  }

  async contacts(queries: readonly { readonly key: IdentifierKey; readonly since: number }[]): Promise<Map<IdentifierKey, Set<string>>> {
    const out = new Map<IdentifierKey, Set<string>>()
    if (queries.length === 0) return out
    const { rows } = await run<{ key: string; profile_id: string }>(this.#db, 'read identifier contacts',
      `SELECT c.key, c.profile_id FROM identity_contacts AS c
       JOIN unnest($1::text[], $2::bigint[]) AS q (key, since) ON c.key = q.key AND c.last_at >= q.since`,
      [queries.map((q) => q.key), queries.map((q) => q.since)])
    for (const r of rows) {
      const set = out.get(r.key) ?? new Set<string>()
      set.add(r.profile_id)
      out.set(r.key, set)
    }
    return out
  }

  async quarantineList(options: { readonly limit: number; readonly afterSeq?: number }): Promise<(QuarantineRecord & { readonly seq: number })[]> {
    const { rows } = await run<{ seq: number; key: string; profiles: number; threshold: number; window_ms: number; cause: string; message_id: string; event_time: number }>(
      this.#db, 'read quarantined identifiers',
      `SELECT seq, key, profiles, threshold, window_ms, cause, message_id, event_time FROM identity_quarantine
       WHERE seq > $1 ORDER BY seq DESC LIMIT $2`, [options.afterSeq ?? 0, options.limit])
    return rows.map(rowToQuarantine)
  }

  async edgesAmong(keys: readonly IdentifierKey[]): Promise<IdentityEdge[]> {
    if (keys.length === 0) return []
    const { rows } = await run<{ from_key: string; to_key: string; rule: LinkRule; message_id: string; source_id: string; event_time: string; confidence: number }>(
      this.#db, 'read the edges of a component',
      `SELECT from_key, to_key, rule, message_id, source_id, event_time, confidence FROM identity_edges
       WHERE from_key = ANY ($1::text[]) AND to_key = ANY ($1::text[]) ORDER BY seq`, [[...keys]])
    return rows.map((r) => ({
      from: r.from_key, to: r.to_key, rule: r.rule, messageId: r.message_id, sourceId: r.source_id, eventTime: num(r.event_time), confidence: r.confidence,
    }))
  }

  async timeline(profileIds: readonly string[]): Promise<TimelineRow[]> {
    if (profileIds.length === 0) return []
    const { rows } = await run<{ profile_id: string; message_id: string; source_id: string; timestamp: string; payload: string }>(
      this.#db, 'read timelines',
      `SELECT profile_id, message_id, source_id, timestamp, payload FROM profile_events
       WHERE profile_id = ANY ($1::text[]) ORDER BY timestamp, message_id`, [[...profileIds]])
    return rows.map((r) => ({ profileId: r.profile_id, messageId: r.message_id, sourceId: r.source_id, timestamp: num(r.timestamp), payload: r.payload }))
  }

  async moveTimelineRows(moves: readonly { readonly from: string; readonly to: string; readonly messageId: string; readonly sourceId: string }[]): Promise<void> {
    if (moves.length === 0) return
    await run(this.#db, 'move timeline rows',
      `UPDATE profile_events AS e SET profile_id = m.dst
       FROM unnest($1::text[], $2::text[], $3::text[], $4::text[]) AS m (src, dst, message_id, source_id)
       WHERE e.profile_id = m.src AND e.message_id = m.message_id AND e.source_id = m.source_id`,
      [moves.map((m) => m.from), moves.map((m) => m.to), moves.map((m) => m.messageId), moves.map((m) => m.sourceId)])
  }

  async recordUnmerge(record: UnmergeRecord, splits: readonly (readonly [IdentifierKey, IdentifierKey])[]): Promise<number> {
    const { rows } = await run<{ seq: string }>(this.#db, 'record an unmerge',
      `INSERT INTO identity_unmerges (profile_id, kind, target, principal, reason, result, recorded_at)
       VALUES ($1, $2, $3, $4, $5, $6::jsonb, $7) RETURNING seq`,
      [record.profileId, record.kind, record.target, record.principal, record.reason, JSON.stringify(record.result), record.time])
    const seq = num(rows[0]!.seq)
    if (splits.length > 0) {
      const a = splits.flatMap(([x, y]) => [x, y])
      const b = splits.flatMap(([x, y]) => [y, x])
      await run(this.#db, 'record split rules',
        `INSERT INTO identity_splits (a, b, unmerge_seq) SELECT s.a, s.b, $3::bigint FROM unnest($1::text[], $2::text[]) AS s (a, b)
         ON CONFLICT (a, b) DO NOTHING`, [a, b, seq])
    }
    return seq
  }

  async unmerges(profileId: string): Promise<(UnmergeRecord & { readonly seq: number })[]> {
    const { rows } = await run<{ seq: string; profile_id: string; kind: 'identifier' | 'edge'; target: string; principal: string; reason: string; result: unknown; recorded_at: string }>(
      this.#db, 'read unmerges',
      `SELECT seq, profile_id, kind, target, principal, reason, result, recorded_at FROM identity_unmerges
       WHERE profile_id = $1 OR result @> jsonb_build_array(jsonb_build_object('profileId', $1::text)) ORDER BY seq`, [profileId])
    return rows.map(rowToUnmerge)
  }

  async matchBlockSizes(keys: readonly string[], cap: number): Promise<Map<string, number>> {
    if (keys.length === 0) return new Map()
    const { rows } = await run<{ key: string; n: string }>(this.#db, 'count blocking keys',
      `SELECT q.key, (SELECT count(*) FROM (SELECT 1 FROM identity_match_keys AS c WHERE c.key = q.key LIMIT $2) AS l) AS n
       FROM unnest($1::text[]) AS q (key)`, [[...new Set(keys)], cap + 1])
    return new Map(rows.map((r) => [r.key, num(r.n)]))
  }

  async mergeLog(profileIds: readonly string[]): Promise<MergeRecord[]> {
    if (profileIds.length === 0) return []
    const { rows } = await run<{ winner: string; loser: string; message_id: string; rule: LinkRule; event_time: string }>(this.#db, 'read merges',
      `SELECT winner, loser, message_id, rule, event_time FROM profile_merges
       WHERE winner = ANY ($1::text[]) OR loser = ANY ($1::text[]) ORDER BY seq`, [[...profileIds]])
    return rows.map((r) => ({ winner: r.winner, loser: r.loser, messageId: r.message_id, rule: r.rule, eventTime: num(r.event_time) }))
  }

  async recordReviewSplits(reviewSeq: number, pairs: readonly (readonly [IdentifierKey, IdentifierKey])[]): Promise<void> {
    if (pairs.length === 0) return
    const a = pairs.flatMap(([x, y]) => [x, y])
    const b = pairs.flatMap(([x, y]) => [y, x])
    await run(this.#db, 'record review split rules',
      `INSERT INTO identity_splits (a, b, unmerge_seq, review_seq) SELECT s.a, s.b, 0, $3::bigint FROM unnest($1::text[], $2::text[]) AS s (a, b)
       ON CONFLICT (a, b) DO NOTHING`, [a, b, reviewSeq])
  }

  async reopenReview(seq: number): Promise<ReviewRecord | null> {
    const { rows } = await run<ReviewRow>(this.#db, 'reopen a review item',
      `UPDATE identity_review n SET status = 'open', principal = NULL, decided_at = NULL
       FROM identity_review o WHERE n.seq = o.seq AND n.seq = $1::bigint AND o.status = 'rejected'
       RETURNING o.seq, o.profile_a, o.profile_b, o.probability, o.weight, o.message_id, o.event_time, o.status, o.principal, o.decided_at`, [seq])
    if (rows.length === 0) return null
    await run(this.#db, 'remove review split rules', 'DELETE FROM identity_splits WHERE review_seq = $1', [seq])
    await run(this.#db, 'remove a do-not-link pair', 'DELETE FROM identity_do_not_link WHERE review_seq = $1', [seq])
    return rowToReview(rows[0]!)
  }
}
