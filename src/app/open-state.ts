/** @module Picks the StateBackend adapter from config (the only place that names a store adapter). */
import type { TesseraConfig } from '../config/config.js'
import type { ProfileReader } from '../profiles/profile-reader.js'
import type { StateBackend } from '../storage/state-backend.js'
import { SqliteStateBackend, openSqliteProfileReader } from '../storage/sqlite/sqlite-backend.js'

export function openState(config: TesseraConfig, path: string): StateBackend {
  switch (config.store.kind) {
    case 'sqlite':
      // `normal` is enough for the state: it commits together with the consumer offsets, so if a power loss
      // drops its last commits, the pipeline redoes them from events.raw (which fsyncs with log.sync=full).
      return new SqliteStateBackend({ path, sync: 'normal' })
  }
}

/** A read-only view for the admin API; the state must have been migrated already. */
export function openReader(config: TesseraConfig, path: string): ProfileReader {
  switch (config.store.kind) {
    case 'sqlite':
      return openSqliteProfileReader(path)
  }
}
