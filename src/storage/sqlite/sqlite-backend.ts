/**
 * @module The embedded StateBackend: identity, profiles and pipeline state in one SQLite database (WAL),
 * so that a batch's state and its consumer offsets commit in one transaction.
 */
import { mkdirSync } from 'node:fs'
import { dirname } from 'node:path'
import Database from 'better-sqlite3'
import type { StateBackend, StateTransaction } from '../state-backend.js'
import type { ProfileReader } from '../../profiles/profile-reader.js'
import { TesseraError } from '../../core/errors.js'
import { TransactionGate } from '../transaction-gate.js'
import type { SqliteDatabase } from './sqlite-database.js'
import { DERIVED_TABLES, migrate } from './sqlite-migrations.js'
import { SqliteIdentityStore } from './sqlite-identity-store.js'
import { SqliteProfileStore } from './sqlite-profile-store.js'
import { SqliteDedupeStore, SqliteOffsetStore, SqliteSessionStore } from './sqlite-pipeline-state.js'
import { SqliteProfileReader } from './sqlite-profile-reader.js'
import { SqliteProfileControlStore } from './sqlite-profile-control-store.js'

export interface SqliteBackendOptions {
  readonly path: string
  /** `full` fsyncs each commit; `normal` is safe against process crashes (kill -9) but not power loss. */
  readonly sync: 'full' | 'normal'
}

function open(path: string, readonly: boolean): SqliteDatabase {
  if (!readonly) mkdirSync(dirname(path), { recursive: true })
  const db = new Database(path, { readonly, fileMustExist: readonly })
  db.pragma('busy_timeout = 5000')
  return db as unknown as SqliteDatabase
}

/**
 * A reset graph holding no operator decision naming keys (split rules, unmerges) is rebuilt by the replay from the
 * log: it takes the scheme proposed then (how a clear state becomes pseudonymous).
 */
export const FORGET_SCHEME = `DELETE FROM state_meta WHERE name = 'identifier_scheme'
  AND NOT EXISTS (SELECT 1 FROM identity_splits) AND NOT EXISTS (SELECT 1 FROM identity_unmerges)`

export class SqliteStateBackend implements StateBackend {
  readonly kind = 'sqlite'
  readonly #options: SqliteBackendOptions
  readonly #db: SqliteDatabase
  #tx: StateTransaction | undefined
  readonly #gate = new TransactionGate({ serial: true })

  constructor(options: SqliteBackendOptions) {
    this.#options = Object.freeze({ ...options })
    this.#db = open(options.path, false)
    this.#db.pragma('journal_mode = WAL')
    this.#db.pragma(`synchronous = ${options.sync === 'full' ? 'FULL' : 'NORMAL'}`)
    this.#db.pragma('cache_size = -65536')
    // A batch writes a few MB; checkpointing every 1,000 pages (the default) would copy the WAL on nearly
    // every commit. 10,000 pages (~40 MB) keeps checkpoints rare while bounding the WAL file.
    this.#db.pragma('wal_autocheckpoint = 10000')
  }

  async migrate(): Promise<void> {
    migrate(this.#db)
  }

  async transaction<T>(work: (tx: StateTransaction) => Promise<T>): Promise<T> {
    return this.#gate.run(() => this.#transact(work))
  }

  async #transact<T>(work: (tx: StateTransaction) => Promise<T>): Promise<T> {
    const tx = (this.#tx ??= {
      identity: new SqliteIdentityStore(this.#db),
      profiles: new SqliteProfileStore(this.#db),
      dedupe: new SqliteDedupeStore(this.#db),
      sessions: new SqliteSessionStore(this.#db),
      offsets: new SqliteOffsetStore(this.#db),
      control: new SqliteProfileControlStore(this.#db),
    })
    this.#db.exec('BEGIN IMMEDIATE')
    try {
      const result = await work(tx)
      this.#db.exec('COMMIT')
      return result
    } catch (error) {
      if (this.#db.inTransaction) this.#db.exec('ROLLBACK')
      throw error
    }
  }

  reader(): ProfileReader {
    return openSqliteProfileReader(this.#options.path)
  }

  async identifierScheme(proposed: string): Promise<string> {
    this.#db.exec('BEGIN IMMEDIATE')
    try {
      const held = this.#db.prepare("SELECT value FROM state_meta WHERE name = 'identifier_scheme'").get() as { value: string } | undefined
      let scheme = held?.value
      if (scheme === undefined) {
        const written = this.#db.prepare('SELECT EXISTS (SELECT 1 FROM identifiers) OR EXISTS (SELECT 1 FROM identity_splits) OR EXISTS (SELECT 1 FROM identity_unmerges) AS n').get() as { n: number }
        scheme = written.n ? 'clear' : proposed
        this.#db.prepare("INSERT INTO state_meta (name, value) VALUES ('identifier_scheme', ?)").run(scheme)
      }
      this.#db.exec('COMMIT')
      return scheme
    } catch (error) {
      if (this.#db.inTransaction) this.#db.exec('ROLLBACK')
      throw error
    }
  }

  async reset(): Promise<void> {
    this.#db.exec('BEGIN IMMEDIATE')
    try {
      for (const table of DERIVED_TABLES) this.#db.exec(`DELETE FROM ${table}`)
      this.#db.exec(FORGET_SCHEME)
      this.#db.exec('COMMIT')
    } catch (cause) {
      this.#db.exec('ROLLBACK')
      throw new TesseraError('TESSERA_STORE', 'could not reset the state database', { cause })
    }
  }

  async close(): Promise<void> {
    this.#db.close()
  }
}

/** Opens a read-only connection on an existing, migrated state database. */
export function openSqliteProfileReader(path: string): ProfileReader {
  return new SqliteProfileReader(open(path, true))
}
