/**
 * @module SQLite adapter of the DataKeyStore port: `<dataDir>/keys.db`, a file of its own so that the keys can be
 * backed up (and their backups expired) apart from the data they open.
 *
 * Crypto-shredding must leave no copy of a deleted key in the file: `secure_delete` overwrites deleted rows, and
 * the rollback journal (not WAL, whose old frames would keep the row until a checkpoint that a reader can hold
 * back) is deleted at each commit; `synchronous = FULL` because losing a key loses the subject's events. Writes come
 * with every new subject (ingest batches its new keys per event-loop turn, the pipeline per batch), so the table is
 * laid out for them: rows in append order, the ref lookup in a compact index (migration 2, below).
 */
import { mkdirSync } from 'node:fs'
import { dirname } from 'node:path'
import Database from 'better-sqlite3'
import { TesseraError } from '../../core/errors.js'
import type { DataKeyStore, StoredDataKey } from '../../governance/crypto/data-key-store.js'
import type { SqliteDatabase, SqliteStatement } from './sqlite-database.js'

export const DATA_KEY_MIGRATIONS: readonly string[] = [
  `
  CREATE TABLE data_keys (
    ref TEXT PRIMARY KEY, key_id TEXT NOT NULL, master_key_id TEXT NOT NULL, wrapped BLOB NOT NULL, created_at INTEGER NOT NULL
  ) WITHOUT ROWID;
  CREATE INDEX data_keys_master ON data_keys(master_key_id, ref);
  `,
  // Append-ordered rows. Refs are HMAC pseudonyms, so a b-tree keyed by them puts each new key on a random page;
  // keyed by ref (and indexed again by master key and ref), every new key dirtied two random 4 KiB pages, each
  // written twice (rollback journal, then the file). Keyed by an increasing rowid, new rows fill the table's last
  // page and only the ref index (~50-byte entries: 2.5x as many per page as whole rows) takes a random page per key.
  // The master key index goes: rotation pages through the ref index and skips rows already re-wrapped (they are
  // behind its cursor), and counting per master key is an admin read.
  `
  CREATE TABLE data_keys_v2 (
    seq INTEGER PRIMARY KEY, ref TEXT NOT NULL UNIQUE, key_id TEXT NOT NULL, master_key_id TEXT NOT NULL, wrapped BLOB NOT NULL,
    created_at INTEGER NOT NULL
  );
  INSERT INTO data_keys_v2 (ref, key_id, master_key_id, wrapped, created_at)
    SELECT ref, key_id, master_key_id, wrapped, created_at FROM data_keys ORDER BY created_at, ref;
  DROP TABLE data_keys;
  ALTER TABLE data_keys_v2 RENAME TO data_keys;
  `,
]

interface Row { ref: string; key_id: string; master_key_id: string; wrapped: Buffer; created_at: number }

function toKey(r: Row): StoredDataKey {
  return { ref: r.ref, keyId: r.key_id, masterKeyId: r.master_key_id, wrapped: r.wrapped, createdAt: r.created_at }
}

const SELECT_MANY = 'SELECT ref, key_id, master_key_id, wrapped, created_at FROM data_keys WHERE ref IN (SELECT value FROM json_each(?))'
const SELECT_ONE = 'SELECT ref, key_id, master_key_id, wrapped, created_at FROM data_keys WHERE ref = ?'
const INSERT = 'INSERT INTO data_keys (ref, key_id, master_key_id, wrapped, created_at) VALUES (?, ?, ?, ?, ?) ON CONFLICT (ref) DO NOTHING'

export class SqliteDataKeyStore implements DataKeyStore {
  readonly #db: SqliteDatabase
  readonly #path: string
  /** Statements of the hot paths, prepared on first use (after `migrate` made the table). */
  readonly #statements = new Map<string, SqliteStatement>()

  constructor(path: string) {
    this.#path = path
    mkdirSync(dirname(path), { recursive: true })
    try {
      this.#db = new Database(path) as unknown as SqliteDatabase
      this.#db.pragma('busy_timeout = 10000')
      this.#db.pragma('journal_mode = DELETE')
      this.#db.pragma('synchronous = FULL')
      this.#db.pragma('secure_delete = ON')
      // The ref index's pages are touched at random: keep them in memory between transactions (16 MiB, per
      // connection, holds the index of ~200,000 keys; pages are read again after another connection's commit).
      this.#db.pragma('cache_size = -16384')
    } catch (cause) {
      throw new TesseraError('TESSERA_STORE', `cannot open the key store ${path}: ${(cause as Error).message}`, { cause })
    }
  }

  #write<T>(what: string, work: () => T): T {
    try {
      this.#db.exec('BEGIN IMMEDIATE')
    } catch (cause) {
      throw new TesseraError('TESSERA_STORE', `the key store ${this.#path} is busy (${what}): ${(cause as Error).message}`, { cause })
    }
    try {
      const result = work()
      this.#db.exec('COMMIT')
      return result
    } catch (error) {
      if (this.#db.inTransaction) this.#db.exec('ROLLBACK')
      throw new TesseraError('TESSERA_STORE', `could not ${what} in the key store ${this.#path}: ${(error as Error).message}`, { cause: error })
    }
  }

  async migrate(): Promise<void> {
    const current = this.#db.pragma('user_version', { simple: true }) as number
    if (current > DATA_KEY_MIGRATIONS.length) {
      throw new TesseraError('TESSERA_STORE', `the key store ${this.#path} is at version ${current}, newer than this Tessera (${DATA_KEY_MIGRATIONS.length}); upgrade Tessera`)
    }
    for (let v = current; v < DATA_KEY_MIGRATIONS.length; v++) {
      this.#write(`apply migration ${v + 1}`, () => {
        if ((this.#db.pragma('user_version', { simple: true }) as number) !== v) return // another process did it
        this.#db.exec(DATA_KEY_MIGRATIONS[v]!)
        this.#db.pragma(`user_version = ${v + 1}`)
      })
    }
  }

  #statement(sql: string): SqliteStatement {
    let statement = this.#statements.get(sql)
    if (statement === undefined) {
      statement = this.#db.prepare(sql)
      this.#statements.set(sql, statement)
    }
    return statement
  }

  async get(refs: readonly string[]): Promise<StoredDataKey[]> {
    if (refs.length === 0) return []
    if (refs.length === 1) {
      const row = this.#statement(SELECT_ONE).get(refs[0]) as Row | undefined
      return row === undefined ? [] : [toKey(row)]
    }
    return (this.#statement(SELECT_MANY).all(JSON.stringify(refs)) as Row[]).map(toKey)
  }

  async insertIfAbsent(keys: readonly StoredDataKey[]): Promise<StoredDataKey[]> {
    if (keys.length === 0) return []
    // A row inserted is the one given; only a conflict (another writer was first) reads the stored row back.
    return this.#write('store data keys', () => {
      const insert = this.#statement(INSERT)
      const select = this.#statement(SELECT_ONE)
      return keys.map((k) => insert.run(k.ref, k.keyId, k.masterKeyId, k.wrapped, k.createdAt).changes === 1 ? k : toKey(select.get(k.ref) as Row))
    })
  }

  async delete(refs: readonly string[]): Promise<number> {
    if (refs.length === 0) return 0
    const del = this.#db.prepare('DELETE FROM data_keys WHERE ref = ?')
    return this.#write('delete data keys', () => refs.reduce((n, ref) => n + del.run(ref).changes, 0))
  }

  async notWrappedBy(masterKeyId: string, afterRef: string, limit: number): Promise<StoredDataKey[]> {
    return (this.#db.prepare('SELECT ref, key_id, master_key_id, wrapped, created_at FROM data_keys WHERE master_key_id <> ? AND ref > ? ORDER BY ref LIMIT ?')
      .all(masterKeyId, afterRef, limit) as Row[]).map(toKey)
  }

  async rewrap(ref: string, keyId: string, fromMasterKeyId: string, to: { readonly masterKeyId: string; readonly wrapped: Buffer }): Promise<boolean> {
    return this.#write('re-wrap a data key', () => this.#db.prepare('UPDATE data_keys SET master_key_id = ?, wrapped = ? WHERE ref = ? AND key_id = ? AND master_key_id = ?')
      .run(to.masterKeyId, to.wrapped, ref, keyId, fromMasterKeyId).changes === 1)
  }

  async countByMasterKey(): Promise<Record<string, number>> {
    const rows = this.#db.prepare('SELECT master_key_id AS id, count(*) AS n FROM data_keys GROUP BY master_key_id').all() as { id: string; n: number }[]
    return Object.fromEntries(rows.map((r) => [r.id, r.n]))
  }

  async countDataKeys(): Promise<number> {
    return (this.#db.prepare("SELECT count(*) AS n FROM data_keys WHERE ref NOT LIKE '~%'").get() as { n: number }).n
  }

  async close(): Promise<void> {
    this.#db.close()
  }
}
