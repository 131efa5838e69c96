/**
 * @module The workload advisor as the CLI and the admin API use it: ingest event logs, History Server apps and
 * runs tables into the store; recommend a configuration (stored with its prediction); close the feedback loop when
 * the recommended run's log arrives (matched by `spark.tessera.recommendationId`, or named explicitly); report the
 * accuracy of past recommendations over time. The models are trained from the stored runs on demand and kept
 * until the history changes, so a new run updates the next recommendation.
 */
import { randomUUID } from 'node:crypto'
import { ValidationError } from '../core/errors.js'
import type { Clock } from '../core/clock.js'
import type { JsonObject } from '../core/event.js'
import { choose, DEFAULT_ADVISOR, planTrials, type AdvisorOptions, type Assessment } from './advisor/advisor.js'
import { clusterSpecs, executorLayout, sparkConf, sparkSubmitFlags } from './advisor/spark-config.js'
import type { SparkApp } from './eventlog/spark-app.js'
import { fromSparkApp, EVENTLOG_COLUMNS, type EventLogRunOptions } from './runs/converters.js'
import type { RowProblem, RunRow, RunsTable } from './runs/runs-table.js'
import { WorkloadModels } from './models/workload-models.js'
import type { OutcomeRecord, RecommendationRecord, RunInput, WorkloadStore } from './workload-store.js'

export interface WorkloadSettings {
  /** USD per node-hour by instance type, for event logs (which carry no price). */
  readonly prices: Readonly<Record<string, number>>
  readonly maxFailureRisk: number
  /** Trial runs proposed for a job with too little history. */
  readonly explorationTrials: number
}

export interface IngestReport {
  readonly applications: number
  readonly added: number
  readonly duplicates: number
  readonly skipped: readonly { readonly source: string; readonly reason: string }[]
  /** Lines or views that could not be read (the rest of those logs was kept). */
  readonly problems: readonly { readonly source: string; readonly line: number; readonly file: string; readonly message: string }[]
  /** Outcomes recorded for recommendations whose run arrived. */
  readonly outcomes: readonly OutcomeRecord[]
}

export interface RecommendRequest {
  readonly job: string
  readonly inputGb: number | null
  readonly deadlineS: number
  /** Further feature values (job parameters), as in the runs table. */
  readonly features?: Readonly<Record<string, string>>
  readonly requestedBy: string
}

const round = (v: number, digits = 3): number => Math.round(v * 10 ** digits) / 10 ** digits

function assessmentJson(a: Assessment): JsonObject {
  return {
    instanceType: a.candidate.instanceType, nodes: a.candidate.nodes, pricePerNodeHour: a.candidate.pricePerNodeHour,
    runtimeP50S: round(a.prediction.p50, 1), runtimeP90S: round(a.prediction.p90, 1), costP50Usd: round(a.costP50, 4),
    expectedCostUsd: round(a.expectedCost, 4), failureRisk: round(a.prediction.failureRisk), method: a.prediction.method,
  }
}

export class WorkloadService {
  readonly #store: WorkloadStore
  readonly #settings: WorkloadSettings
  readonly #clock: Clock
  #models: { runs: number; models: WorkloadModels } | undefined

  constructor(store: WorkloadStore, settings: WorkloadSettings, clock: Clock) {
    this.#store = store
    this.#settings = settings
    this.#clock = clock
  }

  /** Stores parsed applications as runs, and records the outcome of those that ran a recommendation. */
  async ingestApps(apps: readonly { source: string; app: SparkApp }[], origin: string, options: EventLogRunOptions = {}): Promise<IngestReport> {
    const runs: RunInput[] = []
    const skipped: { source: string; reason: string }[] = []
    const problems: IngestReport['problems'][number][] = []
    const recommended: { app: SparkApp; row: RunRow; key: string }[] = []
    for (const { source, app } of apps) {
      for (const p of app.problems) problems.push({ source, ...p })
      const r = fromSparkApp(app, { prices: this.#settings.prices, ...options })
      if (r.row === null) {
        skipped.push({ source, reason: r.reason })
        continue
      }
      const key = app.appId ? `${app.appId}${app.attemptId ? `/${app.attemptId}` : ''}@${app.startTime}` : null
      runs.push({ run: r.row, source: origin, runKey: key })
      if (app.allocation.recommendationId && key) recommended.push({ app, row: r.row, key })
    }
    const { added, duplicates } = await this.#store.addRuns(runs, this.#clock.now())
    if (added > 0) this.#models = undefined
    const outcomes: OutcomeRecord[] = []
    for (const { app, row, key } of recommended) {
      const o = await this.recordOutcome(app.allocation.recommendationId!, key, row.runtimeS, row.completed)
      if (o) outcomes.push(o)
    }
    return { applications: apps.length, added, duplicates, skipped, problems, outcomes }
  }

  /** Stores the rows of a runs table (from a CSV or a converter). */
  async ingestTable(table: RunsTable, problems: readonly RowProblem[], origin: string): Promise<IngestReport> {
    const { added, duplicates } = await this.#store.addRuns(table.rows.map((run) => ({ run, source: origin, runKey: run.extra.run_id ? `${origin}:${run.extra.run_id}` : null })), this.#clock.now())
    if (added > 0) this.#models = undefined
    return { applications: 0, added, duplicates, skipped: [], problems: problems.map((p) => ({ source: origin, line: p.line, file: origin, message: p.message })), outcomes: [] }
  }

  /** The feedback loop: the observed run of a recommendation; null when the recommendation is unknown or already scored. */
  async recordOutcome(recommendationId: string, runKey: string, runtimeS: number, completed: boolean): Promise<OutcomeRecord | null> {
    const rec = await this.#store.getRecommendation(recommendationId)
    if (!rec) return null
    const outcome: OutcomeRecord = {
      recommendationId, runKey, observedAt: this.#clock.now(), runtimeS, completed,
      absPercentError: Math.abs(rec.predictedP50S - runtimeS) / Math.max(1e-9, runtimeS), withinP90: completed && runtimeS <= rec.predictedP90S,
      metDeadline: completed && runtimeS <= rec.deadlineS,
    }
    return (await this.#store.recordOutcome(outcome)) ? outcome : null
  }

  async table(): Promise<RunsTable> {
    const rows = await this.#store.runs()
    const extra = new Set<string>(EVENTLOG_COLUMNS)
    for (const r of rows) for (const k of Object.keys(r.extra)) extra.add(k)
    return { rows, extraColumns: [...extra].filter((c) => rows.some((r) => (r.extra[c] ?? '') !== '')) }
  }

  /** The trained models, retrained when the number of stored runs changed. */
  async models(): Promise<WorkloadModels> {
    const count = await this.#store.countRuns()
    if (this.#models && this.#models.runs === count) return this.#models.models
    const table = await this.table()
    if (table.rows.filter((r) => r.completed).length < 2) {
      throw new ValidationError('history', `the workload history has ${table.rows.length} run(s); ingest event logs or a runs table first (tessera workload ingest)`)
    }
    const models = WorkloadModels.fit(table)
    this.#models = { runs: count, models }
    return models
  }

  async recommend(req: RecommendRequest, options: Partial<AdvisorOptions> = {}): Promise<JsonObject> {
    if (req.job.trim() === '') throw new ValidationError('job', 'is required (the name of the recurring job, as in the runs table or the Spark app name)')
    if (req.inputGb !== null && !(req.inputGb >= 0)) throw new ValidationError('inputGb', 'must be a number of GB >= 0')
    const models = await this.models()
    const advisor: AdvisorOptions = { ...DEFAULT_ADVISOR, maxFailureRisk: this.#settings.maxFailureRisk, trials: this.#settings.explorationTrials, ...options }
    const inputBytes = req.inputGb === null ? null : req.inputGb * 1e9
    const extra = req.features ?? {}
    const choice = choose(models, req.job, inputBytes, req.deadlineS, advisor, extra)
    const c = choice.chosen.candidate
    const id = randomUUID()
    const layout = executorLayout(c.nodes, c.vcpusPerNode, c.memoryGbPerNode)
    const conf = sparkConf(layout, id)
    const memory = choice.chosen.prediction.peakMemoryGbPerExecutor
    const known = models.jobs().find((j) => j.job === req.job)
    const thin = !models.hasOwnHistory(req.job)
    const warnings: string[] = []
    if (!choice.meetsDeadline) warnings.push(`no configuration in the history meets the deadline of ${req.deadlineS} s at P90 with failure risk <= ${advisor.maxFailureRisk}; this is the fastest safe one`)
    if (memory && memory.p90 > layout.containerGb) warnings.push(`predicted peak executor memory P90 ${round(memory.p90, 2)} GB exceeds the container (${round(layout.containerGb, 2)} GB): consider a memory-optimised instance type`)
    if (thin) {
      warnings.push(choice.chosen.prediction.method === 'prior'
        ? `${req.job} has no completed run in the history: it is predicted as an average job of the history; run the proposed trials, then ingest their logs`
        : `${req.job} has ${known?.configs ?? 0} configuration(s) in the history: runtimes are transferred from similar jobs; run the proposed trials to sharpen them`)
    }
    const plan = thin ? planTrials(models, req.job, inputBytes, advisor.trials, req.deadlineS, extra) : null
    const advice: JsonObject = {
      id, job: req.job, inputGb: req.inputGb, deadlineS: req.deadlineS, meetsDeadline: choice.meetsDeadline,
      chosen: {
        ...assessmentJson(choice.chosen), executors: layout.executors, executorCores: layout.executorCores, executorMemoryGb: layout.executorMemoryGb,
        memoryOverheadMb: layout.memoryOverheadMb, executorsPerNode: layout.executorsPerNode,
        peakMemoryGbPerExecutor: memory ? { p50: round(memory.p50), p90: round(memory.p90) } : null,
        cpuSeconds: choice.chosen.prediction.cpuSeconds ? { p50: round(choice.chosen.prediction.cpuSeconds.p50, 1), p90: round(choice.chosen.prediction.cpuSeconds.p90, 1) } : null,
      },
      why: choice.meetsDeadline
        ? `cheapest expected cost among ${choice.assessed} configurations whose P90 runtime is within ${req.deadlineS} s and failure risk <= ${advisor.maxFailureRisk}`
        : `fastest of ${choice.assessed} configurations at P90 (none meets the deadline safely)`,
      alternatives: choice.alternatives.map(assessmentJson),
      sparkConf: conf,
      sparkSubmit: sparkSubmitFlags(conf),
      clusterSpecs: clusterSpecs(c.instanceType, c.nodes, conf, `tessera-${req.job}`.replace(/[^A-Za-z0-9-]/g, '-').slice(0, 60)) as unknown as JsonObject,
      history: { job: req.job, configurations: known?.configs ?? 0, runs: models.table.rows.length, jobs: models.jobs().length },
      exploration: plan
        ? {
            needed: true,
            trials: plan.trials.map((t) => ({ instanceType: t.candidate.instanceType, nodes: t.candidate.nodes, predictedRuntimeS: round(t.predictedRuntimeS, 1), predictedCostUsd: round(t.predictedCost, 4) })),
            totalPredictedCostUsd: round(plan.totalPredictedCost, 4),
          }
        : { needed: false },
      warnings,
    }
    const record: RecommendationRecord = {
      id, createdAt: this.#clock.now(), job: req.job, inputBytes, deadlineS: req.deadlineS, instanceType: c.instanceType, nodes: c.nodes,
      predictedP50S: choice.chosen.prediction.p50, predictedP90S: choice.chosen.prediction.p90, predictedCost: choice.chosen.costP50,
      failureRisk: choice.chosen.prediction.failureRisk, method: choice.chosen.prediction.method, requestedBy: req.requestedBy, advice,
    }
    await this.#store.saveRecommendation(record)
    return advice
  }

  async recommendation(id: string): Promise<{ record: RecommendationRecord; outcomes: OutcomeRecord[] } | null> {
    const record = await this.#store.getRecommendation(id)
    if (!record) return null
    return { record, outcomes: (await this.#store.outcomes()).filter((o) => o.recommendationId === id) }
  }

  /** Accuracy of recommendations whose runs arrived, overall and per period (`day` or `week`, UTC). */
  async accuracy(period: 'day' | 'week' = 'week'): Promise<JsonObject> {
    const outcomes = await this.#store.outcomes()
    const bucket = (t: number): string => {
      const d = new Date(t)
      if (period === 'week') d.setUTCDate(d.getUTCDate() - ((d.getUTCDay() + 6) % 7))
      return d.toISOString().slice(0, 10)
    }
    const summarise = (os: readonly OutcomeRecord[]): JsonObject => ({
      runs: os.length,
      mape: os.length === 0 ? null : round(os.reduce((a, o) => a + o.absPercentError, 0) / os.length, 4),
      p90Coverage: os.length === 0 ? null : round(os.filter((o) => o.withinP90).length / os.length, 4),
      deadlineMet: os.length === 0 ? null : round(os.filter((o) => o.metDeadline).length / os.length, 4),
      failed: os.filter((o) => !o.completed).length,
    })
    const byPeriod = new Map<string, OutcomeRecord[]>()
    for (const o of outcomes) byPeriod.set(bucket(o.observedAt), [...(byPeriod.get(bucket(o.observedAt)) ?? []), o])
    return {
      period, overall: summarise(outcomes),
      periods: [...byPeriod].sort(([a], [b]) => (a < b ? -1 : 1)).map(([start, os]) => ({ start, ...summarise(os) })),
      recommendations: (await this.#store.listRecommendations(1_000_000)).length,
    }
  }
}
