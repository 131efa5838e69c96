/**
 * @module SQLite adapter of the AuditStore port: its own file (`<dataDir>/audit.db`, WAL), so the audit log
 * can be verified, copied and kept apart from the state database. Triggers refuse UPDATE and DELETE on the
 * entries and checkpoints (a guard against mistakes; deliberate tampering is caught by `tessera audit verify`).
 */
import { mkdirSync } from 'node:fs'
import { dirname } from 'node:path'
import Database from 'better-sqlite3'
import type { NewAuditRecord } from '../../governance/audit-entry.js'
import type { AuditQuery, AuditStore, KeyedAuditRecord, StoredAuditRecord, StoredCheckpoint } from '../../governance/audit-store.js'
import { TesseraError } from '../../core/errors.js'
import type { SqliteDatabase } from './sqlite-database.js'

export const AUDIT_MIGRATIONS: readonly string[] = [
  `
  CREATE TABLE audit_entries (
    seq INTEGER PRIMARY KEY, time INTEGER NOT NULL, kind TEXT NOT NULL, actor TEXT NOT NULL, entry TEXT NOT NULL,
    leaf_hash BLOB NOT NULL
  );
  CREATE INDEX audit_entries_time ON audit_entries(time);
  CREATE INDEX audit_entries_actor ON audit_entries(actor, seq);
  CREATE TABLE audit_subjects (profile_id TEXT NOT NULL, seq INTEGER NOT NULL, PRIMARY KEY (profile_id, seq)) WITHOUT ROWID;
  CREATE TABLE audit_checkpoints (
    id INTEGER PRIMARY KEY AUTOINCREMENT, tree_size INTEGER NOT NULL, root_hash BLOB NOT NULL, time INTEGER NOT NULL,
    note TEXT NOT NULL
  );
  CREATE TRIGGER audit_entries_no_update BEFORE UPDATE ON audit_entries BEGIN SELECT RAISE(ABORT, 'audit entries are append-only'); END;
  CREATE TRIGGER audit_entries_no_delete BEFORE DELETE ON audit_entries BEGIN SELECT RAISE(ABORT, 'audit entries are append-only'); END;
  CREATE TRIGGER audit_checkpoints_no_update BEFORE UPDATE ON audit_checkpoints BEGIN SELECT RAISE(ABORT, 'audit checkpoints are append-only'); END;
  CREATE TRIGGER audit_checkpoints_no_delete BEFORE DELETE ON audit_checkpoints BEGIN SELECT RAISE(ABORT, 'audit checkpoints are append-only'); END;
  `,
  // 2: keys of entries appended once (appendOnce: the identity audit relay), and searching by kind
  `
  CREATE TABLE audit_sources (source_key TEXT PRIMARY KEY, seq INTEGER NOT NULL) WITHOUT ROWID;
  CREATE INDEX audit_entries_kind ON audit_entries(kind, seq);
  CREATE TRIGGER audit_sources_no_update BEFORE UPDATE ON audit_sources BEGIN SELECT RAISE(ABORT, 'audit sources are append-only'); END;
  CREATE TRIGGER audit_sources_no_delete BEFORE DELETE ON audit_sources BEGIN SELECT RAISE(ABORT, 'audit sources are append-only'); END;
  `,
]

interface EntryRow {
  seq: number
  time: number
  kind: string
  actor: string
  entry: string
  leaf_hash: Buffer
  subjects: string | null
}

const SELECT = `SELECT e.seq, e.time, e.kind, e.actor, e.entry, e.leaf_hash,
  (SELECT json_group_array(s.profile_id) FROM audit_subjects AS s WHERE s.seq = e.seq) AS subjects FROM audit_entries AS e`

function toRecord(row: EntryRow): StoredAuditRecord {
  return {
    seq: row.seq, time: row.time, kind: row.kind, actor: row.actor, text: row.entry, leafHash: row.leaf_hash,
    subjects: row.subjects === null ? [] : (JSON.parse(row.subjects) as string[]),
  }
}

export interface SqliteAuditStoreOptions {
  readonly path: string
  /** Open an existing file read-only (the `tessera audit verify` CLI, while Tessera runs). */
  readonly readonly?: boolean
}

export class SqliteAuditStore implements AuditStore {
  readonly #db: SqliteDatabase

  constructor(options: SqliteAuditStoreOptions) {
    const readonly = options.readonly ?? false
    if (!readonly) mkdirSync(dirname(options.path), { recursive: true })
    try {
      this.#db = new Database(options.path, { readonly, fileMustExist: readonly }) as unknown as SqliteDatabase
    } catch (cause) {
      throw new TesseraError('TESSERA_STORE', `cannot open the audit store ${options.path}: ${(cause as Error).message}`, { cause })
    }
    this.#db.pragma('busy_timeout = 5000')
    if (!readonly) {
      this.#db.pragma('journal_mode = WAL')
      this.#db.pragma('synchronous = NORMAL')
    }
  }

  async migrate(): Promise<void> {
    const current = this.#db.pragma('user_version', { simple: true }) as number
    if (current > AUDIT_MIGRATIONS.length) {
      throw new TesseraError('TESSERA_STORE', `audit store is at version ${current}, newer than this Tessera (${AUDIT_MIGRATIONS.length}); upgrade Tessera`)
    }
    for (let v = current; v < AUDIT_MIGRATIONS.length; v++) {
      this.#db.exec('BEGIN IMMEDIATE')
      try {
        this.#db.exec(AUDIT_MIGRATIONS[v]!)
        this.#db.pragma(`user_version = ${v + 1}`)
        this.#db.exec('COMMIT')
      } catch (error) {
        this.#db.exec('ROLLBACK')
        throw error
      }
    }
  }

  async append(records: readonly NewAuditRecord[]): Promise<number> {
    const first = await this.#appendIf(records.map((record) => ({ record, key: null })))
    return first[0] ?? (await this.count())
  }

  async appendOnce(records: readonly KeyedAuditRecord[]): Promise<(number | null)[]> {
    return this.#appendIf(records)
  }

  /** Appends in one `BEGIN IMMEDIATE` transaction (SQLite's one writer is the append lock); keyed records only once. */
  async #appendIf(records: readonly { readonly record: NewAuditRecord; readonly key: string | null }[]): Promise<(number | null)[]> {
    const insert = this.#db.prepare('INSERT INTO audit_entries (seq, time, kind, actor, entry, leaf_hash) VALUES (?, ?, ?, ?, ?, ?)')
    const subject = this.#db.prepare('INSERT OR IGNORE INTO audit_subjects (profile_id, seq) VALUES (?, ?)')
    const known = this.#db.prepare('SELECT 1 FROM audit_sources WHERE source_key = ?')
    const source = this.#db.prepare('INSERT INTO audit_sources (source_key, seq) VALUES (?, ?)')
    this.#db.exec('BEGIN IMMEDIATE')
    try {
      let { next } = this.#db.prepare('SELECT coalesce(max(seq) + 1, 0) AS next FROM audit_entries').get() as { next: number }
      const seqs = records.map(({ record: r, key }) => {
        if (key !== null) {
          if (known.get(key) !== undefined) return null
          source.run(key, next)
        }
        insert.run(next, r.time, r.kind, r.actor, r.text, r.leafHash)
        for (const s of r.subjects) subject.run(s, next)
        return next++
      })
      this.#db.exec('COMMIT')
      return seqs
    } catch (error) {
      this.#db.exec('ROLLBACK')
      throw new TesseraError('TESSERA_STORE', `could not append to the audit store: ${(error as Error).message}`, { cause: error })
    }
  }

  async count(): Promise<number> {
    return (this.#db.prepare('SELECT count(*) AS n FROM audit_entries').get() as { n: number }).n
  }

  async leafHashes(from: number): Promise<Buffer[]> {
    return (this.#db.prepare('SELECT leaf_hash FROM audit_entries WHERE seq >= ? ORDER BY seq').all(from) as { leaf_hash: Buffer }[]).map((r) => r.leaf_hash)
  }

  async range(from: number, limit: number): Promise<StoredAuditRecord[]> {
    return (this.#db.prepare(`${SELECT} WHERE e.seq >= ? ORDER BY e.seq LIMIT ?`).all(from, limit) as EntryRow[]).map(toRecord)
  }

  async search(q: AuditQuery): Promise<StoredAuditRecord[]> {
    const where: string[] = []
    const params: unknown[] = []
    if (q.profileId !== undefined) {
      where.push('e.seq IN (SELECT seq FROM audit_subjects WHERE profile_id = ?)')
      params.push(q.profileId)
    }
    if (q.actor !== undefined) { where.push('e.actor = ?'); params.push(q.actor) }
    if (q.kind !== undefined) { where.push('e.kind = ?'); params.push(q.kind) }
    if (q.since !== undefined) { where.push('e.time >= ?'); params.push(q.since) }
    if (q.until !== undefined) { where.push('e.time <= ?'); params.push(q.until) }
    if (q.afterSeq !== undefined) { where.push('e.seq > ?'); params.push(q.afterSeq) }
    const sql = `${SELECT}${where.length > 0 ? ` WHERE ${where.join(' AND ')}` : ''} ORDER BY e.seq LIMIT ?`
    return (this.#db.prepare(sql).all(...params, q.limit) as EntryRow[]).map(toRecord)
  }

  async addCheckpoint(cp: StoredCheckpoint): Promise<boolean> {
    // One statement, so the check and the insert are atomic against other connections (SQLite has one writer at a time).
    return this.#db.prepare(
      `INSERT INTO audit_checkpoints (tree_size, root_hash, time, note) SELECT @size, @root, @time, @note
       WHERE NOT EXISTS (SELECT 1 FROM audit_checkpoints WHERE tree_size > @size OR time > @time)`,
    ).run({ size: cp.size, root: cp.rootHash, time: cp.time, note: cp.note }).changes === 1
  }

  async checkpoints(): Promise<StoredCheckpoint[]> {
    return (this.#db.prepare('SELECT tree_size, root_hash, time, note FROM audit_checkpoints ORDER BY id').all() as { tree_size: number; root_hash: Buffer; time: number; note: string }[])
      .map((r) => ({ size: r.tree_size, rootHash: r.root_hash, time: r.time, note: r.note }))
  }

  async latestCheckpoint(): Promise<StoredCheckpoint | null> {
    const r = this.#db.prepare('SELECT tree_size, root_hash, time, note FROM audit_checkpoints ORDER BY tree_size DESC, id DESC LIMIT 1').get() as
      { tree_size: number; root_hash: Buffer; time: number; note: string } | undefined
    return r === undefined ? null : { size: r.tree_size, rootHash: r.root_hash, time: r.time, note: r.note }
  }

  async close(): Promise<void> {
    this.#db.close()
  }
}
