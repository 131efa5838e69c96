/**
 * @module Honest offline evaluation of the models and the advisor on a runs table (docs/workload.md):
 * - `holdout-configs`: per seed, 20 % of each job's configuration groups (every column but the runtime, so
 *   repetitions never straddle the split) are held out; the models train on the rest; runtime MAPE is over the
 *   held-out individual runs. The advisor then picks, for every scenario (job × input × job parameters), among the
 *   configurations that scenario was run on, from predictions only.
 * - `leave-one-job-out`: each job in turn is unknown; the models train on the others; the advisor may run `trials`
 *   trial runs on the held-out job (chosen by its exploration policy, their true outcome revealed and their cost
 *   charged), then recommends. MAPE is over the job's configurations that were not tried.
 * The SLA of each scenario is fixed before anything is predicted: the median (or 90th percentile) of its
 * configurations' runtimes, or a number of seconds. A chosen run that fails, or takes longer than the SLA, is an
 * SLA violation; a failure is charged its own cost plus a rerun on the best static configuration. Baselines: the
 * oracle (cheapest configuration meeting the SLA, from the measurements), the best static configuration chosen on
 * the training jobs (most SLAs met there, then lowest mean cost ratio), and the median configuration.
 */
import { seededRandom } from '../../core/seeded-random.js'
import { choose, costOf, DEFAULT_ADVISOR, nextTrial, scenarioFor, type AdvisorOptions, type Candidate } from '../advisor/advisor.js'
import { groupKey } from '../models/features.js'
import { WorkloadModels, type OwnRun } from '../models/workload-models.js'
import { configKey, type RunRow, type RunsTable } from '../runs/runs-table.js'

export const PROTOCOLS = ['leave-one-job-out', 'holdout-configs'] as const
export type Protocol = (typeof PROTOCOLS)[number]

export type Sla = 'median' | 'p90' | number

export interface EvalOptions {
  readonly protocol: Protocol
  readonly sla: Sla
  readonly trials: number
  readonly seeds: number
  readonly holdoutShare: number
  readonly advisor: AdvisorOptions
  /** Called after each fold (progress). */
  readonly onFold?: (done: number, total: number) => void
}

export const DEFAULT_EVAL: Omit<EvalOptions, 'protocol'> = { sla: 'median', trials: 0, seeds: 1, holdoutShare: 0.2, advisor: DEFAULT_ADVISOR }

/** One configuration of one scenario, from its (possibly repeated) runs. */
interface ConfigOutcome {
  readonly candidate: Candidate
  readonly runtimeS: number
  readonly completed: boolean
  readonly cost: number
  readonly rows: readonly RunRow[]
}

interface ScenarioData {
  readonly key: string
  readonly job: string
  readonly inputBytes: number | null
  readonly extra: Readonly<Record<string, string>>
  readonly configs: readonly ConfigOutcome[]
  readonly slaS: number
  readonly oracleCost: number | null
}

export interface ScenarioResult {
  readonly job: string
  readonly scenario: string
  readonly slaS: number
  readonly chosen: string
  readonly chosenRuntimeS: number
  readonly chosenCompleted: boolean
  readonly costRatioVsOracle: number
  readonly slaViolated: boolean
  readonly trialCostRuns: number
  readonly bestStatic: string
  readonly bestStaticCostRatio: number
  readonly bestStaticSlaViolated: boolean
  readonly medianStaticCostRatio: number
  readonly runtimeMape: number | null
  readonly p90Coverage: number | null
  /** Σ absolute percentage errors and their count (runs), so a job's MAPE is over its individual runs. */
  readonly apeSum: number
  readonly apeRuns: number
  readonly coveredRuns: number
  /** The same against each configuration's mean runtime (C3O's README scores this way), and the configurations. */
  readonly apeMeanSum: number
  readonly apeConfigs: number
}

export interface EvalReport {
  readonly protocol: Protocol
  readonly sla: Sla
  readonly trials: number
  readonly seeds: number
  readonly rows: number
  readonly jobs: number
  /** Means over the held-out jobs (each job's scenarios averaged first, then the jobs). */
  readonly runtime_mape: number
  readonly runtime_mape_by_job: Readonly<Record<string, number>>
  /** MAPE of P50 against each held-out configuration's mean runtime (repetitions averaged first), macro over jobs. */
  readonly runtime_mape_vs_config_mean: number
  readonly p90_coverage: number
  readonly cost_ratio_vs_oracle: number
  readonly sla_violation_rate: number
  readonly trial_cost_runs: number
  readonly best_static_cost_ratio: number
  readonly best_static_sla_violation_rate: number
  readonly median_static_cost_ratio: number
  /** 1 − mean cost of the advisor's picks / mean cost of the best static configuration's (per run, trials not counted). */
  readonly saving_vs_best_static: number
  /** Recurrences after which the trial runs have paid for themselves against the best static configuration (null: never). */
  readonly break_even_runs: number | null
  readonly scenarios: number
  readonly skipped: readonly string[]
  readonly per_scenario: readonly ScenarioResult[]
}

function quantileOf(values: readonly number[], q: number): number {
  const s = [...values].sort((a, b) => a - b)
  if (q === 0.5) return s.length % 2 === 1 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2
  return s[Math.min(s.length - 1, Math.floor(q * s.length))]!
}

const mean = (v: readonly number[]): number => (v.length === 0 ? NaN : v.reduce((a, b) => a + b, 0) / v.length)

/** Groups the runs into scenarios (job × input × job parameters) and their configurations; fixes each SLA. */
function scenariosOf(table: RunsTable, sla: Sla): ScenarioData[] {
  const byScenario = new Map<string, RunRow[]>()
  for (const r of table.rows) {
    if (r.pricePerNodeHour === null) continue
    const params = JSON.parse(groupKey(r, table.extraColumns)) as unknown[]
    const key = JSON.stringify([r.job, r.inputBytes, ...params.slice(6)])
    byScenario.set(key, [...(byScenario.get(key) ?? []), r])
  }
  const out: ScenarioData[] = []
  for (const [key, rows] of byScenario) {
    const byConfig = new Map<string, RunRow[]>()
    for (const r of rows) byConfig.set(configKey(r), [...(byConfig.get(configKey(r)) ?? []), r])
    const configs: ConfigOutcome[] = [...byConfig.values()].map((rs) => {
      const completed = rs.every((r) => r.completed)
      const runtimeS = mean(rs.map((r) => r.runtimeS))
      const c: Candidate = { instanceType: rs[0]!.instanceType, nodes: rs[0]!.nodes, vcpusPerNode: rs[0]!.vcpusPerNode, memoryGbPerNode: rs[0]!.memoryGbPerNode, pricePerNodeHour: rs[0]!.pricePerNodeHour! }
      return { candidate: c, runtimeS, completed, cost: costOf(c, runtimeS), rows: rs }
    })
    if (configs.length < 2) continue
    const slaS = typeof sla === 'number' ? sla : quantileOf(configs.map((c) => c.runtimeS), sla === 'median' ? 0.5 : 0.9)
    const feasible = configs.filter((c) => c.completed && c.runtimeS <= slaS)
    out.push({ key, job: rows[0]!.job, inputBytes: rows[0]!.inputBytes, extra: rows[0]!.extra, configs, slaS, oracleCost: feasible.length > 0 ? Math.min(...feasible.map((c) => c.cost)) : null })
  }
  return out
}

/** What picking configuration `key` costs in scenario `s`, with the failure rule (own cost + rerun on `fallback`). */
function charge(s: ScenarioData, key: string, fallback: string): { cost: number; violated: boolean; outcome: ConfigOutcome | undefined } {
  const o = s.configs.find((c) => configKey(c.candidate) === key)
  if (!o) return { cost: NaN, violated: true, outcome: undefined }
  if (o.completed) return { cost: o.cost, violated: o.runtimeS > s.slaS, outcome: o }
  const f = s.configs.find((c) => configKey(c.candidate) === fallback && c.completed)
    ?? [...s.configs].filter((c) => c.completed).sort((a, b) => a.runtimeS - b.runtimeS)[0]
  return { cost: o.cost + (f?.cost ?? o.cost), violated: true, outcome: o }
}

/** The static configuration chosen on training scenarios: most SLAs met, then the lowest mean cost ratio. */
function bestStatic(train: readonly ScenarioData[], keys: readonly string[]): { best: string; median: string } {
  const stats = keys.map((key) => {
    let met = 0
    const ratios: number[] = []
    for (const s of train) {
      if (s.oracleCost === null) continue
      const o = s.configs.find((c) => configKey(c.candidate) === key)
      if (!o) continue
      if (o.completed && o.runtimeS <= s.slaS) met++
      ratios.push(o.completed ? o.cost / s.oracleCost : Infinity)
    }
    const finite = ratios.filter(Number.isFinite)
    return { key, met, ratio: finite.length === ratios.length && finite.length > 0 ? mean(finite) : Infinity, seen: ratios.length }
  }).filter((s) => s.seen > 0)
  const best = [...stats].sort((a, b) => b.met - a.met || a.ratio - b.ratio)[0]!.key
  const never = stats.filter((s) => Number.isFinite(s.ratio)).sort((a, b) => a.ratio - b.ratio)
  const median = never.length > 0 ? never[Math.floor((never.length - 1) / 2)]!.key : best
  return { best, median }
}

function ownRunsOf(s: ScenarioData, o: ConfigOutcome): OwnRun[] {
  return o.rows.map((r) => ({ scenario: scenarioFor(s.job, s.inputBytes, o.candidate, s.extra), runtimeS: r.runtimeS, completed: r.completed }))
}

/** Scores one held-out scenario with models trained without it. */
function scoreScenario(models: WorkloadModels, s: ScenarioData, train: readonly ScenarioData[], options: EvalOptions, useTrials: boolean): ScenarioResult | null {
  if (s.oracleCost === null) return null
  const candidates = s.configs.map((c) => c.candidate)
  const statics = bestStatic(train, [...new Set(train.flatMap((t) => t.configs.map((c) => configKey(c.candidate))))].filter((k) => candidates.some((c) => configKey(c) === k)))
  const own: OwnRun[] = []
  let trialCost = 0
  if (useTrials) {
    for (let i = 0; i < options.trials; i++) {
      const c = nextTrial(models, s.job, s.inputBytes, own, candidates, s.slaS, s.extra)
      if (!c) break
      const o = s.configs.find((x) => configKey(x.candidate) === configKey(c))!
      trialCost += o.cost
      own.push(...ownRunsOf(s, o))
    }
  }
  const tried = new Set(own.map((r) => configKey(r.scenario)))
  const choice = choose(models, s.job, s.inputBytes, s.slaS, options.advisor, s.extra, useTrials ? own : undefined, candidates)
  const picked = charge(s, configKey(choice.chosen.candidate), statics.best)
  const stat = charge(s, statics.best, statics.best)
  const med = charge(s, statics.median, statics.best)
  // Runtime accuracy on the completed configurations that were not tried, against individual runs.
  const errors: number[] = []
  const covered: number[] = []
  const meanErrors: number[] = []
  for (const o of s.configs) {
    if (!o.completed || tried.has(configKey(o.candidate))) continue
    const p = models.predict(scenarioFor(s.job, s.inputBytes, o.candidate, s.extra), useTrials ? own : undefined)
    for (const r of o.rows) {
      errors.push(Math.abs(p.p50 - r.runtimeS) / r.runtimeS)
      covered.push(r.runtimeS <= p.p90 ? 1 : 0)
    }
    meanErrors.push(Math.abs(p.p50 - o.runtimeS) / o.runtimeS)
  }
  return {
    job: s.job, scenario: s.key, slaS: s.slaS, chosen: configKey(choice.chosen.candidate), chosenRuntimeS: picked.outcome?.runtimeS ?? NaN,
    chosenCompleted: picked.outcome?.completed ?? false, costRatioVsOracle: picked.cost / s.oracleCost, slaViolated: picked.violated,
    trialCostRuns: trialCost / s.oracleCost, bestStatic: statics.best, bestStaticCostRatio: stat.cost / s.oracleCost, bestStaticSlaViolated: stat.violated,
    medianStaticCostRatio: med.cost / s.oracleCost, runtimeMape: errors.length > 0 ? mean(errors) : null, p90Coverage: covered.length > 0 ? mean(covered) : null,
    apeSum: errors.reduce((a, b) => a + b, 0), apeRuns: errors.length, coveredRuns: covered.reduce((a, b) => a + b, 0),
    apeMeanSum: meanErrors.reduce((a, b) => a + b, 0), apeConfigs: meanErrors.length,
  }
}

export function evaluate(table: RunsTable, opts: Partial<EvalOptions> & Pick<EvalOptions, 'protocol'>): EvalReport {
  const options: EvalOptions = { ...DEFAULT_EVAL, ...opts }
  const scenarios = scenariosOf(table, options.sla)
  const jobs = [...new Set(table.rows.map((r) => r.job))].sort()
  const results: ScenarioResult[] = []
  const skipped: string[] = []
  const foldsTotal = options.protocol === 'leave-one-job-out' ? jobs.length * options.seeds : options.seeds
  let done = 0
  for (let seed = 1; seed <= options.seeds; seed++) {
    if (options.protocol === 'leave-one-job-out') {
      for (const job of jobs) {
        const trainRows = table.rows.filter((r) => r.job !== job)
        const models = WorkloadModels.fit({ rows: trainRows, extraColumns: table.extraColumns }, { seed })
        const train = scenarios.filter((s) => s.job !== job)
        for (const s of scenarios.filter((x) => x.job === job)) {
          const r = scoreScenario(models, s, train, options, true)
          if (r) results.push(r)
          else skipped.push(`${s.key}: no configuration meets the SLA`)
        }
        options.onFold?.(++done, foldsTotal)
      }
    } else {
      const random = seededRandom(seed * 104729 + 17)
      const held = new Set<string>()
      for (const r of table.rows) {
        const g = groupKey(r, table.extraColumns)
        if (!held.has(g) && !held.has(`kept:${g}`)) held.add(random() < options.holdoutShare ? g : `kept:${g}`)
      }
      const isHeld = (r: RunRow): boolean => held.has(groupKey(r, table.extraColumns))
      const models = WorkloadModels.fit({ rows: table.rows.filter((r) => !isHeld(r)), extraColumns: table.extraColumns }, { seed })
      for (const s of scenarios) {
        // Accuracy is scored on held-out configurations only; the recommendation over all of the scenario's.
        const heldConfigs = s.configs.filter((c) => c.rows.some(isHeld))
        if (heldConfigs.length === 0) continue
        const r = scoreScenario(models, { ...s }, scenarios, options, false)
        if (!r) {
          skipped.push(`${s.key}: no configuration meets the SLA`)
          continue
        }
        const errors: number[] = []
        const covered: number[] = []
        const meanErrors: number[] = []
        for (const o of heldConfigs) {
          if (!o.completed) continue
          const p = models.predict(scenarioFor(s.job, s.inputBytes, o.candidate, s.extra))
          for (const row of o.rows) {
            errors.push(Math.abs(p.p50 - row.runtimeS) / row.runtimeS)
            covered.push(row.runtimeS <= p.p90 ? 1 : 0)
          }
          meanErrors.push(Math.abs(p.p50 - o.runtimeS) / o.runtimeS)
        }
        results.push({
          ...r, runtimeMape: errors.length > 0 ? mean(errors) : null, p90Coverage: covered.length > 0 ? mean(covered) : null,
          apeSum: errors.reduce((a, b) => a + b, 0), apeRuns: errors.length, coveredRuns: covered.reduce((a, b) => a + b, 0),
          apeMeanSum: meanErrors.reduce((a, b) => a + b, 0), apeConfigs: meanErrors.length,
        })
      }
      options.onFold?.(++done, foldsTotal)
    }
  }
  return summarise(table, options, results, skipped)
}

function summarise(table: RunsTable, options: EvalOptions, results: readonly ScenarioResult[], skipped: readonly string[]): EvalReport {
  const byJob = new Map<string, ScenarioResult[]>()
  for (const r of results) byJob.set(r.job, [...(byJob.get(r.job) ?? []), r])
  const perJob = <T>(f: (rs: ScenarioResult[]) => T): T[] => [...byJob.values()].map(f)
  const jobMean = (pick: (r: ScenarioResult) => number | null): number =>
    mean(perJob((rs) => mean(rs.map(pick).filter((v): v is number => v !== null && Number.isFinite(v)))).filter(Number.isFinite))
  // Runtime accuracy per job over its individual held-out runs, then averaged over jobs (macro).
  const mapeByJob: Record<string, number> = {}
  const coverageByJob: number[] = []
  const configMapeByJob: number[] = []
  for (const [job, rs] of byJob) {
    const runs = rs.reduce((a, r) => a + r.apeRuns, 0)
    if (runs === 0) continue
    mapeByJob[job] = rs.reduce((a, r) => a + r.apeSum, 0) / runs
    coverageByJob.push(rs.reduce((a, r) => a + r.coveredRuns, 0) / runs)
    configMapeByJob.push(rs.reduce((a, r) => a + r.apeMeanSum, 0) / Math.max(1, rs.reduce((a, r) => a + r.apeConfigs, 0)))
  }
  const chosenCost = mean(results.map((r) => r.costRatioVsOracle))
  const staticCost = mean(results.map((r) => r.bestStaticCostRatio))
  const trial = jobMean((r) => r.trialCostRuns)
  const perRunSaving = staticCost - chosenCost
  return {
    protocol: options.protocol, sla: options.sla, trials: options.protocol === 'leave-one-job-out' ? options.trials : 0, seeds: options.seeds,
    rows: table.rows.length, jobs: byJob.size,
    runtime_mape: mean(Object.values(mapeByJob)), runtime_mape_by_job: mapeByJob, runtime_mape_vs_config_mean: mean(configMapeByJob), p90_coverage: mean(coverageByJob),
    cost_ratio_vs_oracle: jobMean((r) => r.costRatioVsOracle), sla_violation_rate: jobMean((r) => (r.slaViolated ? 1 : 0)),
    trial_cost_runs: trial, best_static_cost_ratio: jobMean((r) => r.bestStaticCostRatio),
    best_static_sla_violation_rate: jobMean((r) => (r.bestStaticSlaViolated ? 1 : 0)), median_static_cost_ratio: jobMean((r) => r.medianStaticCostRatio),
    saving_vs_best_static: 1 - chosenCost / staticCost,
    break_even_runs: trial === 0 ? 0 : perRunSaving > 0 ? Math.ceil(trial / perRunSaving) : null,
    scenarios: results.length, skipped, per_scenario: results,
  }
}
