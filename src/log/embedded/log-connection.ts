/**
 * @module Connection settings of the embedded log file: WAL, the durability level and the busy timeout.
 */
import { TesseraError } from '../../core/errors.js'
import type { SqliteDatabase } from './sqlite-database.js'

export type LogSync = 'full' | 'normal'

/**
 * Page cache per connection, in KiB (SQLite takes negative values as KiB). A group commit can hold several MB of
 * records; when its dirty pages do not fit, SQLite spills them to the WAL before COMMIT, which measured ~15 % slower.
 */
const CACHE_KIB = 64 * 1024
/**
 * WAL pages after which a commit also checkpoints (default 1000, about 4 MB). Checkpointing copies every page again
 * and syncs the database file, inside the commit that crossed the threshold; with the default it was the largest
 * single cost of appending (measured on the 2-vCPU dev VM: ~60k -> ~100k records/s with sync=normal, 1,600
 * records per transaction). Fewer, larger checkpoints also copy a page rewritten by many transactions only once.
 * The price is a WAL of up to ~40 MB and, every ~40 MB appended, one commit that blocks the event loop for the
 * checkpoint (measured 100-300 ms, against 30-60 ms every 4 MB with the default).
 */
const WAL_AUTOCHECKPOINT_PAGES = 10_000
/**
 * Page size of a new log file, in bytes (SQLite's default is 4096). The clustered WITHOUT ROWID b-tree keeps at most
 * ~1,000 bytes of a row in a 4 KiB page (~2,000 in 8 KiB) and moves the rest to overflow pages; resolved events with
 * their enrichment are ~1-1.5 KB, so with 4 KiB pages most of them took a page of their own. The output log's size
 * per event is in docs/performance.md (bench/pipeline.ts). It only applies while a file has no table yet (and is
 * not in WAL mode): existing files keep their page size.
 */
export const LOG_PAGE_SIZE = 8192

export interface LogConnectionSettings {
  /**
   * `full`: a commit is fsynced before `append` resolves (survives power loss). `normal`: the WAL is synced only at
   * checkpoints, so a commit survives a crash of the process but the last ones may be lost on power loss.
   */
  readonly sync: LogSync
  /** How long a write waits for another connection's write lock before failing with SQLITE_BUSY. */
  readonly busyTimeoutMs: number
}

/** Applies the settings to a fresh connection. PRAGMAs take no bound parameters, so values are checked first. */
export function configureLogConnection(db: SqliteDatabase, path: string, settings: LogConnectionSettings): void {
  if (!Number.isSafeInteger(settings.busyTimeoutMs) || settings.busyTimeoutMs < 0) {
    throw new TesseraError('TESSERA_CONFIG', `busyTimeoutMs must be a non-negative integer, got ${settings.busyTimeoutMs}`)
  }
  // Set first: switching to WAL needs a lock that another connection may briefly hold.
  db.exec(`PRAGMA busy_timeout = ${settings.busyTimeoutMs}`)
  // Before WAL: a new file's page size is fixed once it enters WAL mode. A no-op on an existing file.
  db.exec(`PRAGMA page_size = ${LOG_PAGE_SIZE}`)
  const mode = db.prepare('PRAGMA journal_mode = WAL').get([]) as { journal_mode: string }
  if (mode.journal_mode !== 'wal') {
    throw new TesseraError('TESSERA_CONFIG',
      `event log ${path} cannot use WAL (journal_mode is ${mode.journal_mode}); use a file on a local disk`)
  }
  db.exec(`PRAGMA synchronous = ${settings.sync === 'full' ? 'FULL' : 'NORMAL'}`)
  db.exec(`PRAGMA cache_size = -${CACHE_KIB}`)
  db.exec(`PRAGMA wal_autocheckpoint = ${WAL_AUTOCHECKPOINT_PAGES}`)
}
