/**
 * @module ConsentStore port: the append-only home of consent records. Adapters: SQLite
 * (`src/storage/sqlite/consent-store.ts`, its own file `<dataDir>/consent.db`) and PostgreSQL
 * (`src/storage/postgres/consent-store.ts`, `consent_*` tables with their own migration table), both held to
 * `consent-store.contract.ts`. Records are never updated or deleted (triggers refuse it); a change of mind is a
 * new record, and the latest record per identifier and purpose is the one in force.
 */
import type { ConsentRecordInput, StoredConsentRecord } from './consent-record.js'

/** A position in the ledger's appends, opaque to callers (each adapter has its own form); from {@link ConsentStore.changes}. */
export type LedgerCursor = string

/** A page of {@link ConsentStore.changes}. */
export interface LedgerChanges {
  /** Identifiers (in the store's own form, as `identifiers()` gives them) with a record appended after the cursor. */
  readonly identifiers: readonly string[]
  /** Where to ask from next. */
  readonly next: LedgerCursor
  /** More changes may be waiting now: ask again from `next` before relying on having seen them all. */
  readonly more: boolean
}

export interface ConsentStore {
  /** Creates or upgrades the consent tables (own migration table; idempotent). */
  migrate(): Promise<void>
  /** Appends the records in order, atomically; returns their seqs. */
  append(records: readonly ConsentRecordInput[]): Promise<number[]>
  /**
   * For each of these identifiers: its latest valid record per purpose (what is in force), plus its latest
   * grant that names a jurisdiction. In seq order.
   */
  latest(identifiers: readonly string[]): Promise<StoredConsentRecord[]>
  /** The identifiers that have any record, in byte order, at most `limit` after `after` (a page of the whole ledger). */
  identifiers(options: { readonly limit: number; readonly after?: string }): Promise<string[]>
  /**
   * The identifiers with a record appended since `after`, at most `limit` a call. With `after` null: no
   * identifiers, and the current position (take it before a full read of the ledger, then follow it). Every record
   * committed after a position is named by a call from that position or from a `next` that followed it, also
   * records of transactions that commit out of seq order; an identifier may be named more than once.
   */
  changes(after: LedgerCursor | null, limit: number): Promise<LedgerChanges>
  /** Every record of one identifier (also invalid ones), oldest first, at most `limit` from seq > `afterSeq`. */
  history(identifier: string, options: { readonly limit: number; readonly afterSeq?: number }): Promise<StoredConsentRecord[]>
  close(): Promise<void>
}
