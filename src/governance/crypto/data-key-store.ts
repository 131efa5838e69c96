/**
 * @module The DataKeyStore port: wrapped per-subject data keys, one row per subject reference (the subject's HMAC
 * pseudonym, never the clear subject). Rows are created once (first writer wins, so every process of a deployment
 * seals a subject under the same key), re-wrapped in place by a master key rotation (compare-and-set on the
 * master key id, so a rotation can stop and resume at any row), and deleted by crypto-shredding.
 *
 * Adapters: SQLite (`<dataDir>/keys.db`, src/storage/sqlite/data-key-store.ts) and PostgreSQL (`tessera_data_keys`
 * in the configured schema, src/storage/postgres/data-key-store.ts); both pass data-key-store.contract.ts.
 */

export interface StoredDataKey {
  /** The subject's reference: its HMAC pseudonym, or a reserved name starting with `~` (the keyring's root). */
  readonly ref: string
  /** Random id of this data key; a new key for the same subject (after a shred) gets a new id. */
  readonly keyId: string
  readonly masterKeyId: string
  readonly wrapped: Buffer
  /** Milliseconds since the epoch. */
  readonly createdAt: number
}

export interface DataKeyStore {
  /** Creates or upgrades the tables; idempotent. */
  migrate(): Promise<void>
  /** The rows of these refs that exist (any order). */
  get(refs: readonly string[]): Promise<StoredDataKey[]>
  /**
   * Inserts each row unless its ref exists, in one transaction; returns the stored rows in input order (the one
   * given, or the one another writer stored first).
   */
  insertIfAbsent(keys: readonly StoredDataKey[]): Promise<StoredDataKey[]>
  /** Deletes the rows of these refs; returns how many existed. */
  delete(refs: readonly string[]): Promise<number>
  /** Up to `limit` rows whose master key is not `masterKeyId`, in ref order after `afterRef` (rotation). */
  notWrappedBy(masterKeyId: string, afterRef: string, limit: number): Promise<StoredDataKey[]>
  /**
   * Replaces the wrapped key of `ref` if the row still has `keyId` and `fromMasterKeyId`; returns whether it did.
   * One row per statement: a crash leaves every row wrapped by the old or the new master key, never neither.
   */
  rewrap(ref: string, keyId: string, fromMasterKeyId: string, to: { readonly masterKeyId: string; readonly wrapped: Buffer }): Promise<boolean>
  /** Number of rows per master key id (rows of reserved refs included). */
  countByMasterKey(): Promise<Record<string, number>>
  /** Number of rows whose ref does not start with `~` (per-subject data keys). */
  countDataKeys(): Promise<number>
  close(): Promise<void>
}
