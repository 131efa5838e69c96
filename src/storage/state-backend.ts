/**
 * @module StateBackend: one object per storage backend (SQLite embedded, PostgreSQL scale-out) that hands
 * out the store ports inside a transaction, and a read side for the admin API.
 * Picked once by the composition root (src/app/).
 */
import type { IdentityStore } from '../identity/identity-store.js'
import type { DedupeStore, OffsetStore, SessionStore } from '../pipeline/pipeline-state.js'
import type { ProfileStore } from '../profiles/profile-store.js'
import type { ProfileControlStore } from '../profiles/profile-control-store.js'
import type { ProfileReader } from '../profiles/profile-reader.js'

/** The stores as seen inside one transaction: everything written commits or rolls back together. */
export interface StateTransaction {
  readonly identity: IdentityStore
  readonly profiles: ProfileStore
  readonly dedupe: DedupeStore
  readonly sessions: SessionStore
  readonly offsets: OffsetStore
  /** Control records of partitioned profile updates: the admin outbox, unmerge routes, trimmed counts. */
  readonly control: ProfileControlStore
}

export interface StateBackend {
  readonly kind: string
  /** Creates or upgrades the schema (versioned, forward only). Called once before first use. */
  migrate(): Promise<void>
  /**
   * Runs `work` in one transaction. If it throws, nothing it wrote is kept. A backend may run `work` again
   * after a transient conflict (PostgreSQL deadlock or serialization failure), so `work` must start from its
   * inputs each time and keep no effects outside the transaction other than idempotent ones (the publish
   * stage's appends are at-least-once and deduplicated by messageId downstream). Callers must not run two
   * transactions at once on one backend instance.
   */
  transaction<T>(work: (tx: StateTransaction) => Promise<T>): Promise<T>
  /** Read side for the admin API; safe to use while a pipeline writes (its own connection). */
  reader(): ProfileReader
  /**
   * The identifier scheme of this state (src/identity/identifier-codec.ts), recorded once: the recorded one when there
   * is one; else `proposed` for a state whose graph is empty, and `clear` for a graph written before schemes were
   * recorded (its keys are clear). Called after `migrate()`, by each process before it reads or writes identifiers.
   */
  identifierScheme(proposed: string): Promise<string>
  /**
   * Deletes all derived state (profiles, identity, dedupe, sessions, offsets) for a replay; with no split rule or
   * unmerge recorded it also forgets the identifier scheme, so the replay's graph takes the scheme proposed then.
   */
  reset(): Promise<void>
  close(): Promise<void>
}
