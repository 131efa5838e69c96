/**
 * @module ConsentStore port: the append-only home of consent records. Adapters: SQLite
 * (`src/storage/sqlite/consent-store.ts`, its own file `<dataDir>/consent.db`) and PostgreSQL
 * (`src/storage/postgres/consent-store.ts`, `consent_*` tables with their own migration table), both held to
 * `consent-store.contract.ts`. Records are never updated or deleted (triggers refuse it); a change of mind is a
 * new record, and the latest record per identifier and purpose is the one in force.
 */
import type { ConsentRecordInput, StoredConsentRecord } from './consent-record.js'

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
  /** Every record of one identifier (also invalid ones), oldest first, at most `limit` from seq > `afterSeq`. */
  history(identifier: string, options: { readonly limit: number; readonly afterSeq?: number }): Promise<StoredConsentRecord[]>
  close(): Promise<void>
}
