/** @module Picks the StateBackend adapter from config (the only place that names a store adapter). */
import type { TesseraConfig } from '../config/config.js'
import type { ProfileReader } from '../profiles/profile-reader.js'
import type { StateBackend } from '../storage/state-backend.js'
import type { IdentityAuditOutbox } from '../identity/identity-audit-outbox.js'
import { SqliteIdentityAuditOutbox } from '../storage/sqlite/sqlite-identity-audit-outbox.js'
import { openPostgresIdentityAuditOutbox } from '../storage/postgres/postgres-identity-audit-outbox.js'
import { SqliteStateBackend, openSqliteProfileReader } from '../storage/sqlite/sqlite-backend.js'
import { openPostgresProfileReader, openPostgresStateBackend, type PostgresBackendOptions } from '../storage/postgres/postgres-backend.js'

function postgresOptions(config: TesseraConfig): PostgresBackendOptions {
  // validateConfig guarantees the URL when kind is postgres.
  return { url: config.store.url!, schema: config.store.schema, poolSize: config.store.poolSize }
}

/**
 * Opens the configured state backend (not yet migrated). `path` is the SQLite file; the PostgreSQL backend
 * ignores it and opens a connection pool from `store.url`.
 */
export async function openState(config: TesseraConfig, path: string): Promise<StateBackend> {
  switch (config.store.kind) {
    case 'sqlite':
      // `normal` is enough for the state: it commits together with the consumer offsets, so if a power loss
      // drops its last commits, the pipeline redoes them from events.raw (which fsyncs with log.sync=full).
      return new SqliteStateBackend({ path, sync: 'normal' })
    case 'postgres':
      return openPostgresStateBackend(postgresOptions(config))
  }
}

/** A read-only view for the admin API (its own connection or pool); the state must have been migrated already. */
export async function openReader(config: TesseraConfig, path: string): Promise<ProfileReader> {
  switch (config.store.kind) {
    case 'sqlite':
      return openSqliteProfileReader(path)
    case 'postgres':
      return openPostgresProfileReader(postgresOptions(config))
  }
}

/** The identity audit outbox of the state (its own connection); the state must have been migrated already. */
export async function openIdentityAuditOutbox(config: TesseraConfig, path: string): Promise<IdentityAuditOutbox> {
  switch (config.store.kind) {
    case 'sqlite':
      return new SqliteIdentityAuditOutbox(path)
    case 'postgres':
      return openPostgresIdentityAuditOutbox({ url: config.store.url!, schema: config.store.schema })
  }
}
