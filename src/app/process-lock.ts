/**
 * @module The data-dir lock: `replay` never rebuilds state under a running `up`, and two `up` processes
 * never share one data dir.
 *
 * It is an exclusive SQLite lock on `<dataDir>/tessera.lock` held for the holder's lifetime (the technique of
 * the event log's appender lock): the kernel drops it when the process dies, so a crash leaves no stale lock,
 * and pid reuse after a container restart cannot fool it. Within one process a second acquisition is refused
 * too. `<lock>.holder` names the holder (pid and purpose) for the refusal message only.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { dirname } from 'node:path'
import Database from 'better-sqlite3'
import { TesseraError } from '../core/errors.js'

export interface ProcessLock {
  /** Drops the lock; idempotent. */
  release(): void
}

function holderOf(path: string): string {
  try {
    const [pid, purpose] = readFileSync(`${path}.holder`, 'utf8').split('\n')
    return `process ${pid} (${purpose})`
  } catch {
    return 'another process' // the side file is informational; its absence changes nothing
  }
}

export function acquireProcessLock(path: string, purpose: string): ProcessLock {
  mkdirSync(dirname(path), { recursive: true })
  const db = new Database(path, { timeout: 0 })
  try {
    db.exec('BEGIN EXCLUSIVE')
  } catch (error) {
    db.close()
    if ((error as { code?: string }).code?.startsWith('SQLITE_BUSY')) {
      throw new TesseraError('TESSERA_LOCKED', `the data dir ${dirname(path)} is in use by ${holderOf(path)}; stop it first, or use another --data-dir`, { cause: error })
    }
    throw new TesseraError('TESSERA_LOCKED', `cannot lock the data dir (${path})`, { cause: error })
  }
  writeFileSync(`${path}.holder`, `${process.pid}\n${purpose}\n`)
  let held = true
  return {
    release(): void {
      if (!held) return
      held = false
      db.close()
    },
  }
}
