/**
 * @module The single-appender lock of a log file: an exclusive SQLite lock on `<path>.lock`, held for the
 * appender's lifetime.
 *
 * Why not a pid file: a pid file outlives a crash, so it needs stale-lock detection, which is racy (two processes
 * taking over the same stale file) and wrong after pid reuse (in a container the restarted process often gets the
 * same pid as the crashed one). The SQLite lock is a POSIX advisory lock that the kernel drops when the process
 * dies, so a crashed appender never leaves a stale lock behind, and SQLite tracks it per process across threads, so
 * a second appender in a worker thread is refused too. The pid of the holder is recorded in the log itself
 * (`log_appender`) only to name it in the refusal.
 *
 * The lock file is never deleted: unlinking it while another process has it open would let two processes lock two
 * different files of the same name.
 */
import { TesseraError } from '../../core/errors.js'
import type { SqliteDatabase, SqliteOpener } from './sqlite-database.js'
import { isBusy } from './sqlite-errors.js'

/** Path of the lock file that guards the log at `logPath`. */
export function lockPathFor(logPath: string): string {
  return `${logPath}.lock`
}

export interface AppenderLock {
  /** Drops the lock; idempotent. */
  release(): void
}

/**
 * Takes the appender lock of the log at `logPath` or refuses at once.
 * @param describeHolder names the current holder for the refusal message (e.g. `process 4242`).
 * @throws TesseraError `TESSERA_LOCKED` when another connection (in any process or thread) holds the lock.
 */
export function acquireAppenderLock(logPath: string, open: SqliteOpener, describeHolder: () => string): AppenderLock {
  const path = lockPathFor(logPath)
  let db: SqliteDatabase
  try {
    db = open(path)
  } catch (error) {
    throw new TesseraError('TESSERA_LOG_UNAVAILABLE', `cannot open the lock file ${path}`, { cause: error })
  }
  try {
    // No waiting: a second appender is a deployment mistake to report, not contention to sit out.
    db.exec('PRAGMA busy_timeout = 0')
    // In rollback-journal mode (the default of a fresh file) EXCLUSIVE locks the file at once, before any write.
    db.exec('BEGIN EXCLUSIVE')
  } catch (error) {
    db.close()
    if (isBusy(error)) {
      throw new TesseraError('TESSERA_LOCKED',
        `event log ${logPath} already has an appender (${describeHolder()}); only one process may append to a log file, ` +
        'open it with readOnly: true to consume it', { cause: error })
    }
    throw new TesseraError('TESSERA_LOG_UNAVAILABLE', `cannot lock ${path}`, { cause: error })
  }
  let held = true
  return {
    release(): void {
      if (!held) return
      held = false
      // Closing the connection ends the transaction and drops the lock.
      db.close()
    },
  }
}
