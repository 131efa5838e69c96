/**
 * @module AuditStore port: the append-only home of audit entries and signed checkpoints. Adapters: SQLite
 * (`src/storage/sqlite/audit-store.ts`) and PostgreSQL (`src/storage/postgres/audit-store.ts`), both held to
 * `audit-store.contract.ts`. The store is not trusted: whatever it returns is checked against the Merkle
 * tree and the signed checkpoints (`audit-verify.ts`).
 */
import type { NewAuditRecord } from './audit-entry.js'

export interface StoredAuditRecord extends NewAuditRecord {
  /** Position in the log (0-based), i.e. the Merkle leaf index. */
  readonly seq: number
}

export interface StoredCheckpoint {
  readonly size: number
  readonly rootHash: Buffer
  readonly time: number
  /** The signed note (C2SP tlog-checkpoint text + signature line). */
  readonly note: string
}

export interface AuditQuery {
  readonly profileId?: string
  /** `token:<name>`, `system:<id>` or `cli:<id>`. */
  readonly actor?: string
  readonly kind?: string
  /** Inclusive bounds on the entry time (ms since epoch). */
  readonly since?: number
  readonly until?: number
  /** Only entries with seq greater than this (pagination). */
  readonly afterSeq?: number
  readonly limit: number
}

/** A record appended at most once: `key` names what it reports (e.g. the state row behind an `identity.merge` entry). */
export interface KeyedAuditRecord {
  readonly record: NewAuditRecord
  /** At most 200 characters; not part of the entry text (the Merkle leaf), stored beside it. */
  readonly key: string
}

export interface AuditStore {
  /** Creates or upgrades the audit tables (own migration table; idempotent). */
  migrate(): Promise<void>
  /**
   * Appends the records in order, atomically, after everything already stored (also entries appended by
   * other processes sharing the store); returns the seq of the first one.
   */
  append(records: readonly NewAuditRecord[]): Promise<number>
  /**
   * Compare-and-append: appends, in order and atomically, the records whose key no earlier `appendOnce` stored (nor
   * an earlier record of the same call), under the same lock as {@link append}, so two processes appending the same
   * key at once store it once. Returns each record's seq, or null for a key already present.
   */
  appendOnce(records: readonly KeyedAuditRecord[]): Promise<(number | null)[]>
  /** Number of entries (= 1 + the highest seq when nothing was tampered with). */
  count(): Promise<number>
  /** Stored leaf hashes of seq `from` onwards, in seq order (how a process catches up with other writers). */
  leafHashes(from: number): Promise<Buffer[]>
  /** Entries in seq order starting at seq ≥ `from`, at most `limit`. */
  range(from: number, limit: number): Promise<StoredAuditRecord[]>
  /** Entries matching the query, in seq order. */
  search(query: AuditQuery): Promise<StoredAuditRecord[]>
  /**
   * Stores a checkpoint unless one already stored covers a larger tree or is dated later (another process sharing the
   * store signed a newer one while this one was signing): stored checkpoints then never go back in size or time, in
   * the order they were written. Atomic with respect to other writers. Returns whether it was stored.
   */
  addCheckpoint(checkpoint: StoredCheckpoint): Promise<boolean>
  /** All checkpoints in the order they were written. */
  checkpoints(): Promise<StoredCheckpoint[]>
  latestCheckpoint(): Promise<StoredCheckpoint | null>
  close(): Promise<void>
}
