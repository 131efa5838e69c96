/**
 * @module IdentityAuditOutbox port: the identity changes the pipeline (or a review accept) made that the audit log
 * does not hold yet. A database trigger queues one row in the same transaction as each `profile_merges`,
 * probabilistic `identity_edges` and `identity_quarantine` row (state migration 5), so a change and its outbox row
 * commit together or not at all. Adapters: SQLite (`src/storage/sqlite/sqlite-identity-audit-outbox.ts`) and
 * PostgreSQL (`src/storage/postgres/postgres-identity-audit-outbox.ts`), both held to
 * `identity-audit-outbox.contract.ts`. The relay that drains it is src/identity/identity-audit-relay.ts.
 */

export const IDENTITY_AUDIT_KINDS = ['merge', 'match', 'quarantine'] as const
export type IdentityAuditKind = (typeof IDENTITY_AUDIT_KINDS)[number]

/**
 * One queued change. Merge: `profileA` won, `profileB` was merged into it, by `rule` for event `messageId`. Match: a
 * scored edge `keyA`-`keyB` with probability `score`, `profileA` the profile that owned `keyA` then. Quarantine:
 * identifier `keyA` (owned by `profileA`) stopped linking after `profiles` profiles (threshold, window, cause).
 * Identifier keys hold values: they never leave the relay except as their type.
 */
export interface IdentityAuditRow {
  /** The outbox's own order. */
  readonly seq: number
  readonly kind: IdentityAuditKind
  /** Seq of the row in its table (`profile_merges`, `identity_edges`, `identity_quarantine`). */
  readonly sourceSeq: number
  readonly profileA: string | null
  readonly profileB: string | null
  readonly keyA: string | null
  readonly keyB: string | null
  readonly rule: string | null
  readonly messageId: string
  readonly sourceId: string | null
  readonly score: number | null
  readonly profiles: number | null
  readonly threshold: number | null
  readonly windowMs: number | null
  readonly cause: string | null
  /** Event time, ms. */
  readonly eventTime: number
  /** Wall-clock ms of the state write. */
  readonly recordedAt: number
}

/** The table's columns as both adapters read them (`bigint` columns may arrive as strings on PostgreSQL). */
export interface OutboxColumns {
  seq: number | string
  kind: IdentityAuditKind
  source_seq: number | string
  profile_a: string | null
  profile_b: string | null
  key_a: string | null
  key_b: string | null
  rule: string | null
  message_id: string
  source_id: string | null
  score: number | null
  profiles: number | null
  threshold: number | null
  window_ms: number | string | null
  cause: string | null
  event_time: number | string
  recorded_at: number | string
}

export function fromOutboxColumns(r: OutboxColumns, num: (v: unknown) => number = Number): IdentityAuditRow {
  const opt = (v: unknown): number | null => (v === null || v === undefined ? null : num(v))
  return {
    seq: num(r.seq), kind: r.kind, sourceSeq: num(r.source_seq), profileA: r.profile_a, profileB: r.profile_b, keyA: r.key_a, keyB: r.key_b,
    rule: r.rule, messageId: r.message_id, sourceId: r.source_id, score: opt(r.score), profiles: opt(r.profiles), threshold: opt(r.threshold),
    windowMs: opt(r.window_ms), cause: r.cause, eventTime: num(r.event_time), recordedAt: num(r.recorded_at),
  }
}

export interface IdentityAuditOutbox {
  /**
   * Hands the oldest queued rows (at most `limit`, in outbox order) to `work` and, once it resolved, removes them.
   * If `work` throws (or the process dies meanwhile) the rows stay queued and are handed out again, so `work` must be
   * idempotent (the relay appends with keys, once). Returns the number of rows removed, or null when another
   * process holds the relay lease (PostgreSQL: a transaction-scoped advisory lock, held while `work` runs; SQLite
   * has one process per state file, by the process lock).
   */
  drain(limit: number, work: (rows: readonly IdentityAuditRow[]) => Promise<void>): Promise<number | null>
  /** Rows queued now. */
  pending(): Promise<number>
  close(): Promise<void>
}
