/**
 * @module WorkloadStore port: the workload advisor's state. The run history the models train on (ingested event
 * logs and runs tables, idempotent per run key), every recommendation with what it predicted, and the observed
 * outcome of each recommended run (the feedback loop: error of P50, whether P90 held). Adapters: a SQLite file
 * (`<dataDir>/workload.db`) and `workload_*` tables in PostgreSQL. Nothing here is personal data: Spark user names
 * are not kept.
 */
import type { JsonObject } from '../core/event.js'
import type { RunRow } from './runs/runs-table.js'

export interface RunInput {
  readonly run: RunRow
  /** Where it came from: `eventlog`, `history-server`, `csv`. */
  readonly source: string
  /** Identity of the run for idempotency (`<appId>/<attempt>` for a Spark app); null: always added. */
  readonly runKey: string | null
}

export interface RecommendationRecord {
  readonly id: string
  readonly createdAt: number
  readonly job: string
  readonly inputBytes: number | null
  readonly deadlineS: number
  readonly instanceType: string
  readonly nodes: number
  readonly predictedP50S: number
  readonly predictedP90S: number
  readonly predictedCost: number
  readonly failureRisk: number
  readonly method: string
  readonly requestedBy: string
  /** The whole advice as returned (alternatives, flags, specs). */
  readonly advice: JsonObject
}

export interface OutcomeRecord {
  readonly recommendationId: string
  readonly runKey: string
  readonly observedAt: number
  readonly runtimeS: number
  readonly completed: boolean
  /** |P50 − runtime| / runtime. */
  readonly absPercentError: number
  readonly withinP90: boolean
  readonly metDeadline: boolean
}

export interface WorkloadStore {
  /** Creates or upgrades the tables (versioned, forward only; safe to call again). */
  migrate(): Promise<void>
  /** Adds runs; a run whose key is already stored is skipped (re-ingesting a folder adds nothing twice). */
  addRuns(runs: readonly RunInput[], time: number): Promise<{ added: number; duplicates: number }>
  /** Every stored run, oldest first (what the models train on). */
  runs(filter?: { readonly job?: string; readonly limit?: number }): Promise<RunRow[]>
  countRuns(): Promise<number>
  saveRecommendation(r: RecommendationRecord): Promise<void>
  getRecommendation(id: string): Promise<RecommendationRecord | null>
  /** Newest first. */
  listRecommendations(limit: number): Promise<RecommendationRecord[]>
  /** Records an outcome once per (recommendation, run key); false when it was already recorded. */
  recordOutcome(o: OutcomeRecord): Promise<boolean>
  /** Oldest first. */
  outcomes(): Promise<OutcomeRecord[]>
  close(): Promise<void>
}
