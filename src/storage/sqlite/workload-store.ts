/**
 * @module SQLite adapter of the WorkloadStore port: its own file (`<dataDir>/workload.db`, WAL), versioned with
 * `user_version`. Run keys are unique, so a re-ingested log is a no-op; outcomes are unique per recommendation and run.
 */
import { mkdirSync } from 'node:fs'
import { dirname } from 'node:path'
import Database from 'better-sqlite3'
import { TesseraError } from '../../core/errors.js'
import type { JsonObject } from '../../core/event.js'
import type { RunRow } from '../../workload/runs/runs-table.js'
import type { OutcomeRecord, RecommendationRecord, RunInput, WorkloadStore } from '../../workload/workload-store.js'
import type { SqliteDatabase } from './sqlite-database.js'

export const WORKLOAD_MIGRATIONS: readonly string[] = [
  `
  CREATE TABLE workload_runs (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, run_key TEXT UNIQUE, source TEXT NOT NULL, ingested_at INTEGER NOT NULL,
    job TEXT NOT NULL, input_bytes REAL, instance_type TEXT NOT NULL, nodes INTEGER NOT NULL, vcpus_per_node REAL NOT NULL,
    memory_gb_per_node REAL NOT NULL, price_per_node_hour REAL, runtime_s REAL NOT NULL, completed INTEGER NOT NULL, extra TEXT NOT NULL
  );
  CREATE INDEX workload_runs_job ON workload_runs(job, seq);
  CREATE TABLE workload_recommendations (
    id TEXT PRIMARY KEY, created_at INTEGER NOT NULL, job TEXT NOT NULL, input_bytes REAL, deadline_s REAL NOT NULL,
    instance_type TEXT NOT NULL, nodes INTEGER NOT NULL, predicted_p50_s REAL NOT NULL, predicted_p90_s REAL NOT NULL,
    predicted_cost REAL NOT NULL, failure_risk REAL NOT NULL, method TEXT NOT NULL, requested_by TEXT NOT NULL, advice TEXT NOT NULL
  ) WITHOUT ROWID;
  CREATE INDEX workload_recommendations_created ON workload_recommendations(created_at);
  CREATE TABLE workload_outcomes (
    recommendation_id TEXT NOT NULL REFERENCES workload_recommendations(id), run_key TEXT NOT NULL, observed_at INTEGER NOT NULL,
    runtime_s REAL NOT NULL, completed INTEGER NOT NULL, abs_percent_error REAL NOT NULL, within_p90 INTEGER NOT NULL, met_deadline INTEGER NOT NULL,
    PRIMARY KEY (recommendation_id, run_key)
  ) WITHOUT ROWID;
  `,
]

interface RunDbRow {
  job: string; input_bytes: number | null; instance_type: string; nodes: number; vcpus_per_node: number; memory_gb_per_node: number
  price_per_node_hour: number | null; runtime_s: number; completed: number; extra: string
}

interface RecDbRow {
  id: string; created_at: number; job: string; input_bytes: number | null; deadline_s: number; instance_type: string; nodes: number
  predicted_p50_s: number; predicted_p90_s: number; predicted_cost: number; failure_risk: number; method: string; requested_by: string; advice: string
}

interface OutDbRow {
  recommendation_id: string; run_key: string; observed_at: number; runtime_s: number; completed: number; abs_percent_error: number; within_p90: number; met_deadline: number
}

const REC_COLUMNS = 'id, created_at, job, input_bytes, deadline_s, instance_type, nodes, predicted_p50_s, predicted_p90_s, predicted_cost, failure_risk, method, requested_by, advice'

export function toRun(r: RunDbRow): RunRow {
  return {
    job: r.job, inputBytes: r.input_bytes === null ? null : Number(r.input_bytes), instanceType: r.instance_type, nodes: Number(r.nodes),
    vcpusPerNode: Number(r.vcpus_per_node), memoryGbPerNode: Number(r.memory_gb_per_node),
    pricePerNodeHour: r.price_per_node_hour === null ? null : Number(r.price_per_node_hour), runtimeS: Number(r.runtime_s),
    completed: Boolean(Number(r.completed)), extra: typeof r.extra === 'string' ? JSON.parse(r.extra) as Record<string, string> : r.extra,
  }
}

export function toRecommendation(r: RecDbRow): RecommendationRecord {
  return {
    id: r.id, createdAt: Number(r.created_at), job: r.job, inputBytes: r.input_bytes === null ? null : Number(r.input_bytes), deadlineS: Number(r.deadline_s),
    instanceType: r.instance_type, nodes: Number(r.nodes), predictedP50S: Number(r.predicted_p50_s), predictedP90S: Number(r.predicted_p90_s),
    predictedCost: Number(r.predicted_cost), failureRisk: Number(r.failure_risk), method: r.method, requestedBy: r.requested_by,
    advice: typeof r.advice === 'string' ? JSON.parse(r.advice) as JsonObject : r.advice,
  }
}

export function toOutcome(r: OutDbRow): OutcomeRecord {
  return {
    recommendationId: r.recommendation_id, runKey: r.run_key, observedAt: Number(r.observed_at), runtimeS: Number(r.runtime_s),
    completed: Boolean(Number(r.completed)), absPercentError: Number(r.abs_percent_error), withinP90: Boolean(Number(r.within_p90)), metDeadline: Boolean(Number(r.met_deadline)),
  }
}

export class SqliteWorkloadStore implements WorkloadStore {
  readonly #db: SqliteDatabase

  constructor(options: { readonly path: string }) {
    mkdirSync(dirname(options.path), { recursive: true })
    try {
      this.#db = new Database(options.path) as unknown as SqliteDatabase
    } catch (cause) {
      throw new TesseraError('TESSERA_STORE', `cannot open the workload store ${options.path}: ${(cause as Error).message}`, { cause })
    }
    this.#db.pragma('busy_timeout = 5000')
    this.#db.pragma('journal_mode = WAL')
    this.#db.pragma('synchronous = NORMAL')
  }

  async migrate(): Promise<void> {
    const current = this.#db.pragma('user_version', { simple: true }) as number
    if (current > WORKLOAD_MIGRATIONS.length) {
      throw new TesseraError('TESSERA_STORE', `workload store is at version ${current}, newer than this Tessera (${WORKLOAD_MIGRATIONS.length}); upgrade Tessera`)
    }
    for (let v = current; v < WORKLOAD_MIGRATIONS.length; v++) {
      this.#db.exec('BEGIN IMMEDIATE')
      try {
        if ((this.#db.pragma('user_version', { simple: true }) as number) > v) {
          this.#db.exec('COMMIT')
          continue
        }
        this.#db.exec(WORKLOAD_MIGRATIONS[v]!)
        this.#db.pragma(`user_version = ${v + 1}`)
        this.#db.exec('COMMIT')
      } catch (error) {
        this.#db.exec('ROLLBACK')
        throw error
      }
    }
  }

  async addRuns(runs: readonly RunInput[], time: number): Promise<{ added: number; duplicates: number }> {
    const insert = this.#db.prepare(`INSERT INTO workload_runs (run_key, source, ingested_at, job, input_bytes, instance_type, nodes, vcpus_per_node,
      memory_gb_per_node, price_per_node_hour, runtime_s, completed, extra) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (run_key) DO NOTHING`)
    let added = 0
    this.#db.exec('BEGIN IMMEDIATE')
    try {
      for (const { run: r, source, runKey } of runs) {
        added += insert.run(runKey, source, time, r.job, r.inputBytes, r.instanceType, r.nodes, r.vcpusPerNode, r.memoryGbPerNode, r.pricePerNodeHour,
          r.runtimeS, r.completed ? 1 : 0, JSON.stringify(r.extra)).changes
      }
      this.#db.exec('COMMIT')
    } catch (error) {
      this.#db.exec('ROLLBACK')
      throw new TesseraError('TESSERA_STORE', `could not store the runs: ${(error as Error).message}`, { cause: error })
    }
    return { added, duplicates: runs.length - added }
  }

  async runs(filter: { readonly job?: string; readonly limit?: number } = {}): Promise<RunRow[]> {
    const cols = 'job, input_bytes, instance_type, nodes, vcpus_per_node, memory_gb_per_node, price_per_node_hour, runtime_s, completed, extra'
    const limit = filter.limit ?? -1
    const rows = filter.job === undefined
      ? this.#db.prepare(`SELECT ${cols} FROM workload_runs ORDER BY seq LIMIT ?`).all(limit)
      : this.#db.prepare(`SELECT ${cols} FROM workload_runs WHERE job = ? ORDER BY seq LIMIT ?`).all(filter.job, limit)
    return (rows as RunDbRow[]).map(toRun)
  }

  async countRuns(): Promise<number> {
    return Number((this.#db.prepare('SELECT count(*) AS n FROM workload_runs').get() as { n: number }).n)
  }

  async saveRecommendation(r: RecommendationRecord): Promise<void> {
    this.#db.prepare(`INSERT INTO workload_recommendations (${REC_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`).run(
      r.id, r.createdAt, r.job, r.inputBytes, r.deadlineS, r.instanceType, r.nodes, r.predictedP50S, r.predictedP90S, r.predictedCost, r.failureRisk,
      r.method, r.requestedBy, JSON.stringify(r.advice))
  }

  async getRecommendation(id: string): Promise<RecommendationRecord | null> {
    const row = this.#db.prepare(`SELECT ${REC_COLUMNS} FROM workload_recommendations WHERE id = ?`).get(id) as RecDbRow | undefined
    return row ? toRecommendation(row) : null
  }

  async listRecommendations(limit: number): Promise<RecommendationRecord[]> {
    return (this.#db.prepare(`SELECT ${REC_COLUMNS} FROM workload_recommendations ORDER BY created_at DESC, id DESC LIMIT ?`).all(limit) as RecDbRow[]).map(toRecommendation)
  }

  async recordOutcome(o: OutcomeRecord): Promise<boolean> {
    return this.#db.prepare(`INSERT INTO workload_outcomes (recommendation_id, run_key, observed_at, runtime_s, completed, abs_percent_error, within_p90, met_deadline)
      VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`).run(o.recommendationId, o.runKey, o.observedAt, o.runtimeS, o.completed ? 1 : 0,
      o.absPercentError, o.withinP90 ? 1 : 0, o.metDeadline ? 1 : 0).changes === 1
  }

  async outcomes(): Promise<OutcomeRecord[]> {
    return (this.#db.prepare('SELECT * FROM workload_outcomes ORDER BY observed_at, recommendation_id').all() as OutDbRow[]).map(toOutcome)
  }

  async close(): Promise<void> {
    this.#db.close()
  }
}
