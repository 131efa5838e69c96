/**
 * @module Runs Tessera for an end-to-end scenario as real processes (`tessera up` from dist/), embedded or
 * scale-out, and reads what the benchmark needs from outside: how many raw events the pipeline has committed (the
 * consumer offsets stored in the same transaction as the state, so the count is exact), the profile totals for
 * the count check, and each process's resident memory.
 */
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import { TOPICS } from '../../src/log/event-log.js'
import { PIPELINE_GROUP } from '../../src/pipeline/pipeline-runner.js'
import { loadPostgresDriver, type PostgresPool } from '../../src/storage/postgres/postgres-pool.js'
import { startKafkaMock, type KafkaMock } from '../../test/support/kafka-mock.js'
import { startServerProcess, type ServerProcess } from '../../test/support/server-process.js'
import { dropSchema, freshSchemaName, requirePostgres } from '../../test/support/services.js'
import { ADMIN_TOKEN, WRITE_KEY, basicAuth } from '../../test/support/tessera-harness.js'
import { dataLayout } from '../../src/app/data-layout.js'

/** What the count check reads from the state store once the pipeline has caught up. */
export interface StoreTotals {
  readonly profiles: number
  readonly identifiers: number
  /** Sum of eventCount over active (not merged) profiles. */
  readonly eventCountSum: number
  readonly merges: number
  readonly rejections: Readonly<Record<string, number>>
}

export interface TesseraCluster {
  /** Where the tracking and admin APIs answer (the ingest process in scale-out). */
  readonly url: string
  readonly authorization: string
  readonly processes: readonly { readonly role: string; readonly process: ServerProcess }[]
  /** Raw events whose processing is committed (sum of the pipeline's stored next offsets). */
  processed(): Promise<number>
  totals(): Promise<StoreTotals>
  /** GET on the admin API; null on 404. */
  admin<T>(path: string): Promise<T | null>
  stop(): Promise<void>
}

/** Every Tessera process started here and not yet stopped, so that the runner can end them if it has to quit. */
const LIVE = new Set<ServerProcess>()

/** Ends (SIGKILL) every Tessera process this module started that is still running; for the runner's exit path. */
export function killAllTesseraProcesses(): void {
  for (const p of LIVE) if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGKILL')
  LIVE.clear()
}

async function start(dataDir: string, env: Record<string, string>, args: readonly string[] = []): Promise<ServerProcess> {
  const p = await startServerProcess(dataDir, env, args)
  LIVE.add(p)
  return p
}

const OFFSETS_SQL = 'SELECT coalesce(sum(next_offset), 0) AS n FROM consumer_offsets WHERE group_id = $group AND topic = $topic'

async function adminGet<T>(url: string, path: string): Promise<T | null> {
  const res = await fetch(url + path, { headers: { authorization: `Bearer ${ADMIN_TOKEN}` } })
  if (res.status === 404) return null
  if (res.status !== 200) throw new Error(`GET ${path} answered ${res.status}: ${await res.text()}`)
  return (await res.json()) as T
}

async function stopAll(processes: readonly { process: ServerProcess }[]): Promise<void> {
  await Promise.all(processes.map(async ({ process }) => {
    if (process.child.exitCode !== null || process.child.signalCode !== null) return
    const timer = setTimeout(() => process.child.kill('SIGKILL'), 15_000)
    await process.kill('SIGTERM')
    clearTimeout(timer)
    LIVE.delete(process)
  }))
}

/** `tessera up` on a fresh data dir: SQLite log and state, pipeline in its worker thread (the defaults). */
export async function startEmbedded(dir: string, config: Record<string, unknown> = {}): Promise<TesseraCluster> {
  const configFile = join(dir, 'tessera.config.json')
  writeFileSync(configFile, JSON.stringify(config))
  const dataDir = join(dir, 'data')
  const server = await start(dataDir, { TESSERA_LOG_LEVEL: 'error', TESSERA_CONFIG: configFile })
  const statePath = dataLayout(dataDir).state
  let db: Database.Database | undefined
  const state = (): Database.Database => (db ??= new Database(statePath, { readonly: true, fileMustExist: true }))
  const processes = [{ role: 'all', process: server }]
  return {
    url: server.url, authorization: basicAuth(WRITE_KEY), processes,
    async processed() {
      const row = state().prepare(OFFSETS_SQL.replace(/\$/g, '@')).get({ group: PIPELINE_GROUP, topic: TOPICS.raw }) as { n: number }
      return row.n
    },
    async totals() {
      const one = (sql: string): number => (state().prepare(sql).get() as { n: number }).n
      const rejections = state().prepare('SELECT reason, count(*) AS n FROM identity_rejections GROUP BY reason').all() as { reason: string; n: number }[]
      return {
        profiles: one('SELECT count(*) AS n FROM profiles WHERE merged_into IS NULL'),
        identifiers: one('SELECT count(*) AS n FROM identifiers'),
        eventCountSum: one('SELECT coalesce(sum(event_count), 0) AS n FROM profiles WHERE merged_into IS NULL'),
        merges: one('SELECT count(*) AS n FROM profile_merges'),
        rejections: Object.fromEntries(rejections.map((r) => [r.reason, r.n])),
      }
    },
    admin: (path) => adminGet(server.url, path),
    async stop() {
      db?.close()
      await stopAll(processes)
    },
  }
}

export interface ScaleoutOptions {
  /** Pipeline processes (`tessera up --role pipeline`) besides the one ingest process. */
  readonly workers: number
  /** Partitions of events.raw (and events.resolved). */
  readonly partitions?: number
}

/**
 * The scale-out mode: librdkafka's mock cluster (three brokers on loopback), a fresh PostgreSQL schema, one
 * `tessera up --role ingest` and `workers` × `tessera up --role pipeline`. Throws when PostgreSQL or the Kafka mock
 * is not available (the scenario records that as its error).
 */
export async function startScaleout(dir: string, options: ScaleoutOptions): Promise<TesseraCluster> {
  const pg = await requirePostgres()
  if (pg === null) throw new Error('PostgreSQL is not reachable (see the warning above); the scale-out scenarios need it')
  const partitions = options.partitions ?? 4
  const mock: KafkaMock = await startKafkaMock({ topics: { [TOPICS.raw]: partitions, [TOPICS.resolved]: partitions, [TOPICS.deadLetter]: 1 } })
  const schema = freshSchemaName('bench')
  const processes: { role: string; process: ServerProcess }[] = []
  let pool: PostgresPool | undefined
  const cleanup = async (): Promise<void> => {
    await stopAll(processes)
    await pool?.end()
    await mock.stop()
    await dropSchema(pg, schema)
  }
  try {
    const configFile = join(dir, 'tessera.config.json')
    // Every process of the deployment seals with the same master key: one key file they share.
    writeFileSync(configFile, JSON.stringify({
      log: { kind: 'kafka', brokers: mock.brokers, partitions }, store: { kind: 'postgres', url: pg, schema },
      governance: { encryption: { keyFile: join(dir, 'master.key') } },
    }))
    const env = { TESSERA_CONFIG: configFile, TESSERA_LOG_LEVEL: 'error' }
    processes.push({ role: 'ingest', process: await start(join(dir, 'ingest'), env, ['--role', 'ingest']) })
    for (let i = 0; i < options.workers; i++) {
      processes.push({ role: `pipeline-${i + 1}`, process: await start(join(dir, `worker-${i + 1}`), env, ['--role', 'pipeline']) })
    }
    pool = (await loadPostgresDriver())({ url: pg, schema, poolSize: 2, applicationName: 'tessera-bench' })
  } catch (error) {
    await cleanup()
    throw error
  }
  const db = pool
  const url = processes[0]!.process.url
  const one = async (sql: string): Promise<number> => Number((await db.query<{ n: string | number }>(sql)).rows[0]!.n)
  return {
    url, authorization: basicAuth(WRITE_KEY), processes,
    // Profiles are updated by the owners of events.resolved here (a second consumer group), so an event counts as
    // processed once it is in its profile's timeline, not when identity resolution committed it.
    processed: () => one('SELECT count(*) AS n FROM profile_events'),
    async totals() {
      const rejections = (await db.query<{ reason: string; n: string }>('SELECT reason, count(*) AS n FROM identity_rejections GROUP BY reason')).rows
      return {
        profiles: await one('SELECT count(*) AS n FROM profiles WHERE merged_into IS NULL'),
        identifiers: await one('SELECT count(*) AS n FROM identifiers'),
        eventCountSum: await one('SELECT coalesce(sum(event_count), 0) AS n FROM profiles WHERE merged_into IS NULL'),
        merges: await one('SELECT count(*) AS n FROM profile_merges'),
        rejections: Object.fromEntries(rejections.map((r) => [r.reason, Number(r.n)])),
      }
    },
    admin: (path) => adminGet(url, path),
    stop: cleanup,
  }
}
