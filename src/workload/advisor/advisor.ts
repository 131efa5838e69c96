/**
 * @module The advisor: for a job, its input size and a deadline, predicts every candidate configuration (the
 * instance types and cluster sizes of the history) and picks the one with the lowest expected cost whose P90
 * runtime meets the deadline and whose failure risk is low; it explains the choice with the next cheapest
 * alternatives. A job with too little history of its own gets a plan of trial runs first (exploration, as
 * CherryPick and Lynceus do): configurations where the jobs it may resemble disagree most, per unit of cost.
 */
import { ValidationError } from '../../core/errors.js'
import { configKey } from '../runs/runs-table.js'
import type { Scenario } from '../models/features.js'
import type { OwnRun, Prediction, WorkloadModels } from '../models/workload-models.js'

export interface Candidate {
  readonly instanceType: string
  readonly nodes: number
  readonly vcpusPerNode: number
  readonly memoryGbPerNode: number
  readonly pricePerNodeHour: number
}

export interface AdvisorOptions {
  /** Highest acceptable failure risk of the chosen configuration (default 0.1). */
  readonly maxFailureRisk: number
  /** Trial runs proposed for a job without enough history (default 3). */
  readonly trials: number
}

export const DEFAULT_ADVISOR: AdvisorOptions = { maxFailureRisk: 0.1, trials: 3 }

export interface Assessment {
  readonly candidate: Candidate
  readonly prediction: Prediction
  /** P50 runtime × nodes × price. */
  readonly costP50: number
  /** Expected cost: a failure costs the failed attempt and a rerun. */
  readonly expectedCost: number
  readonly meetsDeadline: boolean
  readonly feasible: boolean
}

export interface Choice {
  readonly chosen: Assessment
  /** False when no configuration meets the deadline with low risk: the fastest safe one is chosen instead. */
  readonly meetsDeadline: boolean
  readonly alternatives: readonly Assessment[]
  readonly assessed: number
}

/** Parses `90`, `90s`, `45m`, `2h`, `1h30m` into seconds. */
export function parseDuration(text: string, field = 'deadline'): number {
  const t = text.trim()
  if (/^\d+(\.\d+)?$/.test(t)) {
    if (!(Number(t) > 0)) throw new ValidationError(field, 'must be longer than 0 seconds')
    return Number(t)
  }
  const m = /^(?:(\d+(?:\.\d+)?)h)?\s*(?:(\d+(?:\.\d+)?)m(?:in)?)?\s*(?:(\d+(?:\.\d+)?)s)?$/i.exec(t)
  if (!m || t === '' || (m[1] === undefined && m[2] === undefined && m[3] === undefined)) {
    throw new ValidationError(field, `${JSON.stringify(text.slice(0, 40))} is not a duration; use seconds or e.g. 45m, 2h, 1h30m`)
  }
  const s = Number(m[1] ?? 0) * 3600 + Number(m[2] ?? 0) * 60 + Number(m[3] ?? 0)
  if (!(s > 0)) throw new ValidationError(field, 'must be longer than 0 seconds')
  return s
}

/** The configurations of the history that have a price, one per instance type × node count. */
export function candidatesOf(models: WorkloadModels): Candidate[] {
  const byType = new Map<string, { vcpus: number; memory: number; price: number; nodes: Set<number> }>()
  for (const r of models.table.rows) {
    if (r.pricePerNodeHour === null || r.instanceType === 'unknown') continue
    const t = byType.get(r.instanceType) ?? { vcpus: r.vcpusPerNode, memory: r.memoryGbPerNode, price: r.pricePerNodeHour, nodes: new Set<number>() }
    t.nodes.add(r.nodes)
    byType.set(r.instanceType, t)
  }
  const out: Candidate[] = []
  for (const [instanceType, t] of [...byType].sort(([a], [b]) => (a < b ? -1 : 1))) {
    for (const nodes of [...t.nodes].sort((a, b) => a - b)) {
      out.push({ instanceType, nodes, vcpusPerNode: t.vcpus, memoryGbPerNode: t.memory, pricePerNodeHour: t.price })
    }
  }
  return out
}

export function scenarioFor(job: string, inputBytes: number | null, c: Candidate, extra: Readonly<Record<string, string>> = {}): Scenario {
  return { job, inputBytes, instanceType: c.instanceType, nodes: c.nodes, vcpusPerNode: c.vcpusPerNode, memoryGbPerNode: c.memoryGbPerNode, extra }
}

export function costOf(c: Candidate, runtimeS: number): number {
  return (runtimeS / 3600) * c.nodes * c.pricePerNodeHour
}

export function assess(models: WorkloadModels, s: Scenario, c: Candidate, deadlineS: number, options: AdvisorOptions, own?: readonly OwnRun[]): Assessment {
  const prediction = models.predict(s, own)
  const costP50 = costOf(c, prediction.p50)
  const expectedCost = costP50 * (1 + prediction.failureRisk)
  const meetsDeadline = prediction.p90 <= deadlineS
  return { candidate: c, prediction, costP50, expectedCost, meetsDeadline, feasible: meetsDeadline && prediction.failureRisk <= options.maxFailureRisk }
}

/**
 * Chooses a configuration. `own` are the job's known runs (trials) when the caller supplies them; otherwise the
 * job's runs in the models' table.
 */
export function choose(models: WorkloadModels, job: string, inputBytes: number | null, deadlineS: number, options: AdvisorOptions = DEFAULT_ADVISOR,
  extra: Readonly<Record<string, string>> = {}, own?: readonly OwnRun[], candidates: readonly Candidate[] = candidatesOf(models)): Choice {
  if (candidates.length === 0) {
    throw new ValidationError('history', 'no run in the history has a price per node-hour: add price_per_node_hour to the runs (or workload.prices in the config)')
  }
  const assessed = candidates.map((c) => assess(models, scenarioFor(job, inputBytes, c, extra), c, deadlineS, options, own))
  const feasible = assessed.filter((a) => a.feasible).sort((a, b) => a.expectedCost - b.expectedCost)
  if (feasible.length > 0) return { chosen: feasible[0]!, meetsDeadline: true, alternatives: feasible.slice(1, 4), assessed: assessed.length }
  // Nothing meets the deadline safely: the fastest configuration among the safe ones (or overall).
  const safe = assessed.filter((a) => a.prediction.failureRisk <= options.maxFailureRisk)
  const pool = (safe.length > 0 ? safe : assessed).sort((a, b) => a.prediction.p90 - b.prediction.p90 || a.expectedCost - b.expectedCost)
  return { chosen: pool[0]!, meetsDeadline: false, alternatives: pool.slice(1, 4), assessed: assessed.length }
}

/**
 * The static configuration a team would pick from the history: the one with the lowest mean cost relative to
 * each known job's cheapest, among those no known job is predicted to fail on (used as the first trial run).
 */
export function bestStaticCandidate(models: WorkloadModels, candidates: readonly Candidate[], exclude?: string): Candidate {
  const jobs = models.jobs().map((j) => j.job).filter((j) => j !== exclude && models.hasOwnHistory(j))
  if (jobs.length === 0) return [...candidates].sort((a, b) => a.nodes * a.pricePerNodeHour - b.nodes * b.pricePerNodeHour)[Math.floor(candidates.length / 2)]!
  const table = jobs.map((job) => {
    const typical = models.table.rows.find((r) => r.job === job)!
    const costs = candidates.map((c) => {
      const p = models.predict(scenarioFor(job, typical.inputBytes, c, typical.extra))
      return { cost: costOf(c, p.p50), risk: p.failureRisk }
    })
    const min = Math.min(...costs.map((c) => c.cost))
    return costs.map((c) => ({ ratio: c.cost / min, risk: c.risk }))
  })
  let best = 0
  let bestScore = Infinity
  candidates.forEach((_, i) => {
    const worstRisk = Math.max(...table.map((t) => t[i]!.risk))
    const score = table.reduce((a, t) => a + t[i]!.ratio, 0) / table.length + (worstRisk > 0.5 ? 1e6 : 0)
    if (score < bestScore) {
      bestScore = score
      best = i
    }
  })
  return candidates[best]!
}

export interface TrialPlan {
  readonly trials: readonly { readonly candidate: Candidate; readonly predictedRuntimeS: number; readonly predictedCost: number }[]
  readonly totalPredictedCost: number
}

/** Standard normal CDF (Abramowitz–Stegun 7.1.26 on erf). */
function phi(x: number): number {
  const t = 1 / (1 + 0.3275911 * Math.abs(x) / Math.SQRT2)
  const erf = 1 - (((((1.061405429 * t - 1.453152027) * t) + 1.421413741) * t - 0.284496736) * t + 0.254829592) * t * Math.exp(-(x * x) / 2)
  return x >= 0 ? (1 + erf) / 2 : (1 - erf) / 2
}

/**
 * The next trial configuration for a job with runs `own`, by constrained expected improvement (CherryPick's
 * acquisition): runtime is taken as log-normal with the prediction's P50 and P90; a configuration's score is the
 * probability that it meets the deadline and does not fail, times the expected amount by which its cost undercuts
 * the cheapest trial so far that met the deadline. Before any trial, the best static configuration.
 */
export function nextTrial(models: WorkloadModels, job: string, inputBytes: number | null, own: readonly OwnRun[], candidates: readonly Candidate[],
  deadlineS: number, extra: Readonly<Record<string, string>> = {}): Candidate | null {
  const tried = new Set(own.map((r) => configKey(r.scenario)))
  const open = candidates.filter((c) => !tried.has(configKey(c)))
  if (open.length === 0) return null
  if (own.length === 0) {
    const first = bestStaticCandidate(models, candidates, job)
    return tried.has(configKey(first)) ? open[0]! : first
  }
  const met = own.filter((r) => r.completed && r.runtimeS <= deadlineS)
    .map((r) => costOf(candidates.find((c) => configKey(c) === configKey(r.scenario)) ?? { ...r.scenario, pricePerNodeHour: 0 }, r.runtimeS))
  const incumbent = met.length > 0 ? Math.min(...met) : Infinity
  let best: Candidate | null = null
  let bestScore = -Infinity
  for (const c of open) {
    const p = models.predict(scenarioFor(job, inputBytes, c, extra), own)
    const sigma = Math.max(0.02, Math.log(p.p90 / p.p50) / 1.2816)
    const mu = Math.log(costOf(c, p.p50))
    const feasible = phi((Math.log(deadlineS) - Math.log(p.p50)) / sigma) * (1 - p.failureRisk)
    let score: number
    if (!Number.isFinite(incumbent)) score = feasible / Math.exp(mu)
    else {
      // E[max(0, incumbent − X)] for X log-normal(mu, sigma).
      const d = (Math.log(incumbent) - mu) / sigma
      score = feasible * (incumbent * phi(d) - Math.exp(mu + (sigma * sigma) / 2) * phi(d - sigma))
    }
    if (score > bestScore) {
      bestScore = score
      best = c
    }
  }
  return best
}

/** A plan of `n` trial runs for a job without enough history, chosen as if each trial ran as predicted. */
export function planTrials(models: WorkloadModels, job: string, inputBytes: number | null, n: number, deadlineS: number, extra: Readonly<Record<string, string>> = {}): TrialPlan {
  const candidates = candidatesOf(models)
  const own: OwnRun[] = models.table.rows.filter((r) => r.job === job).map((r) => ({
    scenario: scenarioFor(job, r.inputBytes, { ...r, pricePerNodeHour: r.pricePerNodeHour ?? 0 }, r.extra), runtimeS: r.runtimeS, completed: r.completed,
  }))
  const trials: TrialPlan['trials'][number][] = []
  for (let i = 0; i < n; i++) {
    const c = nextTrial(models, job, inputBytes, own, candidates, deadlineS, extra)
    if (!c) break
    const s = scenarioFor(job, inputBytes, c, extra)
    const p = models.predict(s, own)
    trials.push({ candidate: c, predictedRuntimeS: p.p50, predictedCost: costOf(c, p.p50) })
    // Plan the next trial as if this one ran as predicted.
    own.push({ scenario: s, runtimeS: p.p50, completed: true })
  }
  return { trials, totalPredictedCost: trials.reduce((a, t) => a + t.predictedCost, 0) }
}
