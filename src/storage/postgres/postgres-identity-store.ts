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
 */
import type {
  IdentifierKey, IdentifierNode, IdentityChanges, IdentityStore,
} from '../../identity/identity-store.js'
import { edgePairKey } from '../../identity/identity-store.js'
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
    if (changes.nodes.length > 0) {
      const nodes = lastWinsSorted(changes.nodes, (n) => n.key)
      await run(this.#db, 'write identifiers',
        `INSERT INTO identifiers (key, type, value, profile_id, first_seen)
         SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::bigint[])
         ON CONFLICT (key) DO UPDATE SET profile_id = excluded.profile_id`,
        [nodes.map((n) => n.key), nodes.map((n) => n.type), nodes.map((n) => n.value), nodes.map((n) => n.profileId),
          nodes.map((n) => n.firstSeen)])
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
  }
}
