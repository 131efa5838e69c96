/**
 * @module The scale-out StateBackend: identity, profiles and pipeline state in PostgreSQL, so that several
 * pipeline workers (one per partition set) share one state, and a batch's state and its consumer offsets
 * commit in one transaction.
 *
 * Transactions run on a pooled client (`BEGIN` ... `COMMIT`, READ COMMITTED). Identity writes are guarded
 * by advisory locks taken in `IdentityStore.lookup` (see postgres-identity-store.ts); when PostgreSQL still
 * aborts a transaction with a serialization failure or a deadlock (SQLSTATE 40001 / 40P01), `transaction`
 * runs `work` again, up to {@link MAX_ATTEMPTS} times with jittered backoff. That is safe for the pipeline:
 * everything `work` wrote was rolled back, and its stages recompute their results from the store.
 * Any other failure is thrown: infrastructure errors as `TESSERA_STORE` (the runner retries the batch).
 */
import type { ProfileReader } from '../../profiles/profile-reader.js'
import { TransactionGate } from '../transaction-gate.js'
import type { StateBackend, StateTransaction } from '../state-backend.js'
import { loadPostgresDriver, type PostgresClient, type PostgresPool, type PostgresPoolFactory, type PostgresPoolOptions } from './postgres-pool.js'
import { DERIVED_TABLES, migrate } from './postgres-migrations.js'
import { RETRYABLE_STATES, rollbackAfter, run, sqlState, toStoreError } from './postgres-query.js'
import { PostgresIdentityStore } from './postgres-identity-store.js'
import { PostgresProfileStore } from './postgres-profile-store.js'
import { PostgresDedupeStore, PostgresOffsetStore, PostgresSessionStore } from './postgres-pipeline-state.js'
import { PostgresProfileReader } from './postgres-profile-reader.js'
import { PostgresProfileControlStore } from './postgres-profile-control-store.js'

/** Attempts of one transaction on serialization failure or deadlock before giving up with `TESSERA_STORE`. */
export const MAX_ATTEMPTS = 5

export interface PostgresBackendOptions {
  /** @example 'postgres://tessera:secret@db.internal:5432/tessera' */
  readonly url: string
  /** Schema holding Tessera's tables; created by `migrate()`. Default `tessera`. */
  readonly schema?: string
  /** Connections of the pipeline's pool (default 10); each reader gets a pool of up to 4 more. */
  readonly poolSize?: number
  /** `application_name` of the connections (default `tessera`); one in the URL wins. */
  readonly applicationName?: string
}

export const DEFAULT_SCHEMA = 'tessera'
export const DEFAULT_POOL_SIZE = 10
const READER_POOL_SIZE = 4

function resolve(options: PostgresBackendOptions): PostgresPoolOptions {
  return Object.freeze({
    url: options.url,
    schema: options.schema ?? DEFAULT_SCHEMA,
    poolSize: options.poolSize ?? DEFAULT_POOL_SIZE,
    applicationName: options.applicationName ?? 'tessera',
  })
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms))

export class PostgresStateBackend implements StateBackend {
  readonly kind = 'postgres'
  readonly #options: PostgresPoolOptions
  readonly #createPool: PostgresPoolFactory
  readonly #pool: PostgresPool
  readonly #gate = new TransactionGate({ serial: false })
  #closed = false

  /** Prefer {@link openPostgresStateBackend}, which loads the driver. */
  constructor(createPool: PostgresPoolFactory, options: PostgresBackendOptions) {
    this.#options = resolve(options)
    this.#createPool = createPool
    this.#pool = createPool(this.#options)
  }

  async migrate(): Promise<void> {
    await migrate(this.#pool, this.#options.schema)
  }

  async transaction<T>(work: (tx: StateTransaction) => Promise<T>): Promise<T> {
    return this.#gate.run(() => this.#transact(work))
  }

  async #transact<T>(work: (tx: StateTransaction) => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.#attempt(work)
      } catch (error) {
        const state = sqlState(error)
        if (state === undefined || !RETRYABLE_STATES.has(state) || attempt >= MAX_ATTEMPTS) throw error
        // Jitter so that the two transactions that collided do not collide again in lockstep.
        await sleep(Math.random() * 20 * 2 ** attempt)
      }
    }
  }

  async #attempt<T>(work: (tx: StateTransaction) => Promise<T>): Promise<T> {
    let client: PostgresClient
    try {
      client = await this.#pool.connect()
    } catch (error) {
      throw toStoreError(error, 'connect')
    }
    // A checked-out client emits `error` when its connection dies between statements; without a listener
    // that would crash the process. The statement in flight (or the next one) fails and reports it.
    let broken = false
    const onError = (): void => {
      broken = true
    }
    client.on('error', onError)
    try {
      await run(client, 'begin a transaction', 'BEGIN')
      const tx: StateTransaction = {
        identity: new PostgresIdentityStore(client),
        profiles: new PostgresProfileStore(client),
        dedupe: new PostgresDedupeStore(client),
        sessions: new PostgresSessionStore(client),
        offsets: new PostgresOffsetStore(client),
        control: new PostgresProfileControlStore(client),
      }
      const result = await work(tx)
      await run(client, 'commit a transaction', 'COMMIT')
      return result
    } catch (error) {
      if (broken) throw toStoreError(error, 'run a transaction (connection lost)')
      const thrown = await rollbackAfter(client, error)
      if (thrown !== error) broken = true
      throw thrown
    } finally {
      client.off('error', onError)
      client.release(broken)
    }
  }

  /** A reader on a pool of its own; `close()` on the reader ends that pool, not the backend's. */
  reader(): ProfileReader {
    return new PostgresProfileReader(this.#createPool({ ...this.#options, poolSize: Math.min(READER_POOL_SIZE, this.#options.poolSize) }))
  }

  async identifierScheme(proposed: string): Promise<string> {
    // First writer wins (ON CONFLICT): every process of a deployment then reads the same scheme.
    await run(this.#pool, 'record the identifier scheme',
      `INSERT INTO state_meta (name, value)
       SELECT 'identifier_scheme', CASE WHEN EXISTS (SELECT 1 FROM identifiers) OR EXISTS (SELECT 1 FROM identity_splits) OR EXISTS (SELECT 1 FROM identity_unmerges) THEN 'clear' ELSE $1 END
       ON CONFLICT (name) DO NOTHING`, [proposed])
    const { rows } = await run<{ value: string }>(this.#pool, 'read the identifier scheme', "SELECT value FROM state_meta WHERE name = 'identifier_scheme'")
    return rows[0]!.value
  }

  async reset(): Promise<void> {
    await run(this.#pool, 'reset the state', `TRUNCATE ${DERIVED_TABLES.join(', ')} RESTART IDENTITY;
      DELETE FROM state_meta WHERE name = 'identifier_scheme' AND NOT EXISTS (SELECT 1 FROM identity_splits) AND NOT EXISTS (SELECT 1 FROM identity_unmerges)`)
  }

  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    await this.#pool.end()
  }
}

/** Loads `pg` and opens a backend; nothing connects until the first statement (usually `migrate()`). */
export async function openPostgresStateBackend(options: PostgresBackendOptions): Promise<PostgresStateBackend> {
  return new PostgresStateBackend(await loadPostgresDriver(), options)
}

/** A read-only view for the admin API on a pool of its own; the schema must have been migrated already. */
export async function openPostgresProfileReader(options: PostgresBackendOptions): Promise<ProfileReader> {
  const resolved = resolve(options)
  const createPool = await loadPostgresDriver()
  return new PostgresProfileReader(createPool({ ...resolved, poolSize: Math.min(READER_POOL_SIZE, resolved.poolSize) }))
}
