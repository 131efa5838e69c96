/**
 * @module PostgreSQL adapter of the WorkloadStore port: `workload_*` tables in Tessera's schema with their own
 * migration table (`workload_schema_migrations`). Run keys are unique (a re-ingested log is a no-op); outcomes are
 * unique per recommendation and run.
 */
import type { OutcomeRecord, RecommendationRecord, RunInput, WorkloadStore } from '../../workload/workload-store.js'
import type { RunRow } from '../../workload/runs/runs-table.js'
import { toOutcome, toRecommendation, toRun } from '../sqlite/workload-store.js'
import { loadPostgresDriver, type PostgresPool } from './postgres-pool.js'
import { inTransaction, migrateSideStore, num, run } from './postgres-query.js'

export const WORKLOAD_MIGRATIONS: readonly string[] = [
  `
  CREATE TABLE workload_runs (
    seq bigserial PRIMARY KEY, run_key text COLLATE "C" UNIQUE, source text NOT NULL, ingested_at bigint NOT NULL,
    job text NOT NULL, input_bytes double precision, instance_type text NOT NULL, nodes integer NOT NULL, vcpus_per_node double precision NOT NULL,
    memory_gb_per_node double precision NOT NULL, price_per_node_hour double precision, runtime_s double precision NOT NULL, completed boolean NOT NULL,
    extra jsonb NOT NULL
  );
  CREATE INDEX workload_runs_job ON workload_runs (job, seq);
  CREATE TABLE workload_recommendations (
    id text COLLATE "C" PRIMARY KEY, created_at bigint NOT NULL, job text NOT NULL, input_bytes double precision, deadline_s double precision NOT NULL,
    instance_type text NOT NULL, nodes integer NOT NULL, predicted_p50_s double precision NOT NULL, predicted_p90_s double precision NOT NULL,
    predicted_cost double precision NOT NULL, failure_risk double precision NOT NULL, method text NOT NULL, requested_by text NOT NULL, advice jsonb NOT NULL
  );
  CREATE INDEX workload_recommendations_created ON workload_recommendations (created_at);
  CREATE TABLE workload_outcomes (
    recommendation_id text COLLATE "C" NOT NULL REFERENCES workload_recommendations (id), run_key text COLLATE "C" NOT NULL, observed_at bigint NOT NULL,
    runtime_s double precision NOT NULL, completed boolean NOT NULL, abs_percent_error double precision NOT NULL, within_p90 boolean NOT NULL,
    met_deadline boolean NOT NULL, PRIMARY KEY (recommendation_id, run_key)
  );
  `,
]

const REC_COLUMNS = 'id, created_at, job, input_bytes, deadline_s, instance_type, nodes, predicted_p50_s, predicted_p90_s, predicted_cost, failure_risk, method, requested_by, advice'
const RUN_COLUMNS = 'job, input_bytes, instance_type, nodes, vcpus_per_node, memory_gb_per_node, price_per_node_hour, runtime_s, completed, extra'

export interface PostgresWorkloadStoreOptions {
  readonly url: string
  readonly schema: string
  readonly poolSize?: number
  readonly applicationName?: string
}

export async function openPostgresWorkloadStore(options: PostgresWorkloadStoreOptions): Promise<PostgresWorkloadStore> {
  const createPool = await loadPostgresDriver()
  return new PostgresWorkloadStore(createPool({
    url: options.url, schema: options.schema, poolSize: options.poolSize ?? 2, applicationName: options.applicationName ?? 'tessera-workload',
  }), options.schema)
}

export class PostgresWorkloadStore implements WorkloadStore {
  readonly #pool: PostgresPool
  readonly #schema: string

  constructor(pool: PostgresPool, schema: string) {
    this.#pool = pool
    this.#schema = schema
  }

  async migrate(): Promise<void> {
    await migrateSideStore(this.#pool, { schema: this.#schema, table: 'workload', label: 'workload', migrations: WORKLOAD_MIGRATIONS })
  }

  async addRuns(runs: readonly RunInput[], time: number): Promise<{ added: number; duplicates: number }> {
    const added = await inTransaction(this.#pool, 'store the runs', async (c) => {
      let n = 0
      for (const { run: r, source, runKey } of runs) {
        const res = await run(c, 'store a run', `INSERT INTO workload_runs (run_key, source, ingested_at, ${RUN_COLUMNS})
          VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13::jsonb) ON CONFLICT (run_key) DO NOTHING`,
        [runKey, source, time, r.job, r.inputBytes, r.instanceType, r.nodes, r.vcpusPerNode, r.memoryGbPerNode, r.pricePerNodeHour, r.runtimeS, r.completed, JSON.stringify(r.extra)])
        n += res.rowCount ?? 0
      }
      return n
    })
    return { added, duplicates: runs.length - added }
  }

  async runs(filter: { readonly job?: string; readonly limit?: number } = {}): Promise<RunRow[]> {
    const { rows } = filter.job === undefined
      ? await run<Parameters<typeof toRun>[0]>(this.#pool, 'read the runs', `SELECT ${RUN_COLUMNS} FROM workload_runs ORDER BY seq LIMIT $1`, [filter.limit ?? null])
      : await run<Parameters<typeof toRun>[0]>(this.#pool, 'read the runs', `SELECT ${RUN_COLUMNS} FROM workload_runs WHERE job = $1 ORDER BY seq LIMIT $2`, [filter.job, filter.limit ?? null])
    return rows.map(toRun)
  }

  async countRuns(): Promise<number> {
    const { rows } = await run<{ n: string }>(this.#pool, 'count the runs', 'SELECT count(*) AS n FROM workload_runs')
    return num(rows[0]!.n)
  }

  async saveRecommendation(r: RecommendationRecord): Promise<void> {
    await run(this.#pool, 'store a recommendation', `INSERT INTO workload_recommendations (${REC_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14::jsonb)`, [
      r.id, r.createdAt, r.job, r.inputBytes, r.deadlineS, r.instanceType, r.nodes, r.predictedP50S, r.predictedP90S, r.predictedCost, r.failureRisk,
      r.method, r.requestedBy, JSON.stringify(r.advice)])
  }

  async getRecommendation(id: string): Promise<RecommendationRecord | null> {
    const { rows } = await run<Parameters<typeof toRecommendation>[0]>(this.#pool, 'read a recommendation', `SELECT ${REC_COLUMNS} FROM workload_recommendations WHERE id = $1`, [id])
    return rows[0] ? toRecommendation(rows[0]) : null
  }

  async listRecommendations(limit: number): Promise<RecommendationRecord[]> {
    const { rows } = await run<Parameters<typeof toRecommendation>[0]>(this.#pool, 'list recommendations',
      `SELECT ${REC_COLUMNS} FROM workload_recommendations ORDER BY created_at DESC, id DESC LIMIT $1`, [limit])
    return rows.map(toRecommendation)
  }

  async recordOutcome(o: OutcomeRecord): Promise<boolean> {
    const res = await run(this.#pool, 'record an outcome', `INSERT INTO workload_outcomes (recommendation_id, run_key, observed_at, runtime_s, completed,
      abs_percent_error, within_p90, met_deadline) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT DO NOTHING`,
    [o.recommendationId, o.runKey, o.observedAt, o.runtimeS, o.completed, o.absPercentError, o.withinP90, o.metDeadline])
    return (res.rowCount ?? 0) === 1
  }

  async outcomes(): Promise<OutcomeRecord[]> {
    const { rows } = await run<Parameters<typeof toOutcome>[0]>(this.#pool, 'read the outcomes', 'SELECT * FROM workload_outcomes ORDER BY observed_at, recommendation_id')
    return rows.map(toOutcome)
  }

  async close(): Promise<void> {
    await this.#pool.end()
  }
}
