/**
 * @module Maps SQLite failures of the embedded log onto Tessera's error catalog, so that the HTTP edge can tell
 * "try again shortly" (backpressure) from "the log is broken" without knowing SQLite.
 */
import { TesseraError } from '../../core/errors.js'

/** Seconds to wait after the disk filled up: freeing space (retention, an operator) takes longer than a lock. */
const FULL_RETRY_AFTER_SECONDS = 5
/** Seconds to wait after the busy timeout ran out: another connection held the write lock unusually long. */
const BUSY_RETRY_AFTER_SECONDS = 1

/** The extended SQLite result code of an error (e.g. `SQLITE_BUSY_SNAPSHOT`), if it has one. */
export function sqliteCode(error: unknown): string | undefined {
  if (typeof error !== 'object' || error === null || !('code' in error)) return undefined
  const code = (error as { code: unknown }).code
  return typeof code === 'string' && code.startsWith('SQLITE_') ? code : undefined
}

/** True for the lock-contention codes (`SQLITE_BUSY*`, `SQLITE_LOCKED*`). */
export function isBusy(error: unknown): boolean {
  const code = sqliteCode(error)
  return code !== undefined && (code.startsWith('SQLITE_BUSY') || code.startsWith('SQLITE_LOCKED'))
}

/**
 * Turns a failed write into the error its callers get. A full disk (`SQLITE_FULL`, which SQLite also reports for
 * ENOSPC) and lock contention beyond the busy timeout are transient: `TESSERA_BACKPRESSURE` with a retry hint.
 * Anything else (I/O error, corruption, a closed connection) is `TESSERA_LOG_UNAVAILABLE`.
 */
export function toWriteError(error: unknown, what: string): TesseraError {
  const code = sqliteCode(error)
  if (code?.startsWith('SQLITE_FULL')) {
    return new TesseraError('TESSERA_BACKPRESSURE', `${what}: the disk of the event log is full (${code})`, {
      cause: error, retryAfterSeconds: FULL_RETRY_AFTER_SECONDS,
    })
  }
  if (isBusy(error)) {
    return new TesseraError('TESSERA_BACKPRESSURE', `${what}: the event log is locked by another connection (${code})`, {
      cause: error, retryAfterSeconds: BUSY_RETRY_AFTER_SECONDS,
    })
  }
  return new TesseraError('TESSERA_LOG_UNAVAILABLE', `${what}: the event log failed (${code ?? String(error)})`, {
    cause: error,
  })
}

/** Turns a failed read into `TESSERA_LOG_UNAVAILABLE` (reads never need backpressure: WAL readers don't wait). */
export function toReadError(error: unknown, what: string): TesseraError {
  if (error instanceof TesseraError) return error
  return new TesseraError('TESSERA_LOG_UNAVAILABLE', `${what}: the event log failed (${sqliteCode(error) ?? String(error)})`, {
    cause: error,
  })
}
