/**
 * @module The subset of `pg` that the PostgreSQL state adapter uses. We declare it here rather than importing
 * the vendor's types so that nothing outside this folder depends on `pg`; only {@link openPostgresPool}
 * loads the library, and only when the Postgres store is configured.
 */

/** What a query returns: the rows, and how many rows a write touched. */
export interface PostgresResult<R> {
  readonly rows: R[]
  readonly rowCount: number | null
}

/** Anything that runs a parameterised statement: a pool (auto-commit) or a client inside a transaction. */
export interface PostgresQueryable {
  query<R = Record<string, unknown>>(text: string, values?: readonly unknown[]): Promise<PostgresResult<R>>
}

/** A connection checked out of the pool. Call `release` exactly once; pass `true` to discard a broken one. */
export interface PostgresClient extends PostgresQueryable {
  release(destroy?: boolean): void
  on(event: 'error', listener: (error: Error) => void): unknown
  off(event: 'error', listener: (error: Error) => void): unknown
}

/** A connection pool. `error` is emitted for idle connections that die (server restart, terminated backend). */
export interface PostgresPool extends PostgresQueryable {
  connect(): Promise<PostgresClient>
  end(): Promise<void>
  on(event: 'error', listener: (error: Error) => void): unknown
}

export interface PostgresPoolOptions {
  /** `postgres://user:password@host:5432/database`; `?application_name=` in the URL wins over `applicationName`. */
  readonly url: string
  /** Schema that unqualified table names resolve to (set as the connection's `search_path`). */
  readonly schema: string
  readonly poolSize: number
  /** Shown in `pg_stat_activity`, so an operator can tell Tessera's connections (and which role) apart. */
  readonly applicationName: string
}

/** Schema names are spliced into SQL (`search_path`, `CREATE SCHEMA`), so only plain identifiers are allowed. */
export const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,62}$/

/** Creates pools synchronously once the driver is loaded (the backend hands a fresh pool to each reader). */
export type PostgresPoolFactory = (options: PostgresPoolOptions) => PostgresPool

interface DriverPool extends PostgresPool {
  query<R>(text: string, values?: readonly unknown[]): Promise<PostgresResult<R>>
}

/**
 * Loads `pg` (only when the Postgres store is configured) and returns a pool factory. Connections open lazily,
 * so an unreachable server surfaces on the first query, as a `TESSERA_STORE` error from the caller.
 */
export async function loadPostgresDriver(): Promise<PostgresPoolFactory> {
  const { default: pg } = await import('pg')
  return (options) => {
    if (!SCHEMA_NAME.test(options.schema)) throw new Error(`invalid PostgreSQL schema name ${JSON.stringify(options.schema)}`)
    const pool = new pg.Pool({
      connectionString: options.url,
      max: options.poolSize,
      application_name: options.applicationName,
      options: `-c search_path=${options.schema}`,
      connectionTimeoutMillis: 10_000,
      idleTimeoutMillis: 30_000,
    }) as unknown as DriverPool
    return surfaceIdleErrors(pool)
  }
}

/**
 * Without an `error` listener, an idle connection that dies (terminated backend, server restart) would crash
 * the process. `pg` has already dropped that connection from the pool when it emits the event; we keep the
 * error and attach it to the next failure of this pool, so it is reported by whoever runs the next statement.
 */
function surfaceIdleErrors(pool: DriverPool): PostgresPool {
  let idleError: Error | undefined
  pool.on('error', (error) => {
    idleError = error
  })
  const explain = (error: unknown): unknown => {
    if (idleError === undefined || !(error instanceof Error)) return error
    const wrapped = new Error(`${error.message} (an idle connection failed before: ${idleError.message})`, { cause: error })
    idleError = undefined
    return wrapped
  }
  return {
    async query<R>(text: string, values?: readonly unknown[]): Promise<PostgresResult<R>> {
      try {
        const result = await pool.query<R>(text, values)
        idleError = undefined
        return result
      } catch (error) {
        throw explain(error)
      }
    },
    async connect(): Promise<PostgresClient> {
      try {
        const client = await pool.connect()
        idleError = undefined
        return client
      } catch (error) {
        throw explain(error)
      }
    },
    end: () => pool.end(),
    on: (event, listener) => pool.on(event, listener),
  }
}
