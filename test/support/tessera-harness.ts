/** Starts a real Tessera (HTTP on a free port, pipeline in its worker thread) on a temp data dir. */
import { pino } from 'pino'
import { loadConfig, type DeepPartial, type TesseraConfig } from '../../src/config/config.js'
import { startTessera, type RunningTessera } from '../../src/app/tessera.js'
import { tempDir } from './factories.js'
import { dropSchema, freshSchemaName } from './services.js'

export const WRITE_KEY = 'wk_test_default_0123456789'
export const ADMIN_TOKEN = 'tsa_test_admin_token_0123456789'

export interface Harness {
  readonly tessera: RunningTessera
  readonly url: string
  readonly dataDir: string
  /** POST to the tracking API with the default write key. */
  send(path: string, body: unknown, headers?: Record<string, string>): Promise<Response>
  /** GET on the admin API with the admin token; returns status and JSON. */
  admin<T = Record<string, unknown>>(path: string): Promise<{ status: number; body: T }>
  /** Waits until the pipeline processed everything appended so far (default 20 s). */
  drain(timeoutMs?: number): Promise<void>
  close(): Promise<void>
}

export function basicAuth(writeKey: string): string {
  return 'Basic ' + Buffer.from(`${writeKey}:`).toString('base64')
}

export async function startHarness(overrides: DeepPartial<TesseraConfig> = {}, dataDir?: string): Promise<Harness> {
  const temp = dataDir === undefined ? tempDir() : undefined
  const dir = dataDir ?? temp!.dir
  const env = { TESSERA_WRITE_KEY: WRITE_KEY, TESSERA_ADMIN_TOKEN: ADMIN_TOKEN }
  const config = loadConfig({ env, file: undefined, overrides: { host: '127.0.0.1', port: 0, dataDir: dir, ...overrides } })
  const tessera = await startTessera(config, { env, logger: pino({ level: process.env.TESSERA_TEST_LOG ?? 'silent' }) })
  const url = tessera.url
  return {
    tessera, url, dataDir: dir,
    send: (path, body, headers = {}) => fetch(url + path, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: basicAuth(WRITE_KEY), ...headers },
      body: typeof body === 'string' ? body : JSON.stringify(body),
    }),
    async admin<T>(path: string) {
      const res = await fetch(url + path, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } })
      return { status: res.status, body: (await res.json()) as T }
    },
    async drain(timeoutMs = 20_000) {
      if (!tessera.pipeline) throw new Error('this harness runs no pipeline (role ingest)')
      if (!(await tessera.pipeline.drain(timeoutMs))) throw new Error(`pipeline did not catch up within ${timeoutMs / 1000} s`)
    },
    async close() {
      await tessera.close()
      temp?.cleanup()
    },
  }
}

/**
 * A harness on the PostgreSQL state store, in a fresh schema that `close()` drops. `applicationName` goes into
 * the connection URL, so a test can find (and terminate) exactly this Tessera's connections.
 */
export async function startPostgresHarness(
  url: string, options: { applicationName?: string; overrides?: DeepPartial<TesseraConfig> } = {},
): Promise<Harness & { readonly schema: string }> {
  const schema = freshSchemaName('e2e')
  const withName = new URL(url)
  withName.searchParams.set('application_name', options.applicationName ?? `tessera-test-${schema}`)
  const h = await startHarness({ ...options.overrides, store: { kind: 'postgres', url: withName.toString(), schema } })
  return {
    ...h,
    schema,
    async close() {
      await h.close()
      await dropSchema(url, schema)
    },
  }
}
