/**
 * @module Everything the advisor asks of the history, trained from one runs table:
 * - runtime P50/P90: the stacked ensemble for a job with its own history; for a job with little or none, transfer
 *   from the known jobs whose runtimes on the job's own runs match best after a per-job offset (the k-NN over
 *   jobs of Scout/Karasu-style cold start), the spread of those jobs widening P90;
 * - failure risk (under-provisioning): boosted trees with logistic loss on `completed = false`, and for a thin job
 *   the same neighbour jobs' failure rates;
 * - peak memory per executor and CPU-seconds: boosted trees (log scale) on the runs that measured them, with a
 *   conformal P90; absent when fewer than {@link MIN_RESOURCE_RUNS} runs carry the column.
 */
import { configKey, type RunRow, type RunsTable } from '../runs/runs-table.js'
import { FeatureEncoder, scenarioOf, type Scenario } from './features.js'
import { fitGbt, predictGbt, type GbtModel } from './gbt.js'
import { RuntimeEnsemble } from './runtime-ensemble.js'

/** A job with fewer distinct completed configurations than this is predicted by transfer from other jobs. */
export const MIN_OWN_CONFIGS = 6
export const MIN_RESOURCE_RUNS = 8
/** Neighbour jobs a transfer prediction averages. */
const NEIGHBOURS = 3
/** z of the normal 90th percentile, turning the neighbours' spread into a P90 margin. */
const Z90 = 1.2816

export interface Prediction {
  readonly p50: number
  readonly p90: number
  /** Probability that the run fails or times out on this configuration. */
  readonly failureRisk: number
  /** How the runtime was predicted. */
  readonly method: 'ensemble' | 'transfer' | 'prior' | 'observed'
  readonly peakMemoryGbPerExecutor: { readonly p50: number; readonly p90: number } | null
  readonly cpuSeconds: { readonly p50: number; readonly p90: number } | null
}

/** Runs of the job being predicted that transfer learns from (its trial runs). */
export interface OwnRun {
  readonly scenario: Scenario
  readonly runtimeS: number
  readonly completed: boolean
}

interface ResourceModel {
  readonly encoder: FeatureEncoder
  readonly gbt: GbtModel
  readonly q90: number
}

function fitResource(rows: readonly RunRow[], table: RunsTable, column: string, seed: number): ResourceModel | null {
  const have = rows.filter((r) => Number(r.extra[column]) > 0)
  if (have.length < MIN_RESOURCE_RUNS) return null
  const encoder = FeatureEncoder.fit(have, table.extraColumns)
  const x = have.map((r) => encoder.encode(scenarioOf(r)))
  const y = have.map((r) => Math.log(Number(r.extra[column])))
  // Residual quantile from a 2-fold split (small data): fit on one half, score the other.
  const half = have.map((_, i) => i % 2)
  const res: number[] = []
  for (const f of [0, 1]) {
    const tr = have.map((_, i) => i).filter((i) => half[i] !== f)
    const te = have.map((_, i) => i).filter((i) => half[i] === f)
    if (tr.length < 2) continue
    const m = fitGbt(tr.map((i) => x[i]!), tr.map((i) => y[i]!), { rounds: 100, minLeaf: 2, seed })
    for (const i of te) res.push(y[i]! - predictGbt(m, x[i]!))
  }
  res.sort((a, b) => a - b)
  const q90 = res.length > 0 ? Math.max(0, res[Math.min(res.length - 1, Math.floor(0.9 * res.length))]!) : 0.3
  return { encoder, gbt: fitGbt(x, y, { rounds: 100, minLeaf: 2, seed }), q90 }
}

function predictResource(m: ResourceModel | null, s: Scenario): { p50: number; p90: number } | null {
  if (!m) return null
  const v = predictGbt(m.gbt, m.encoder.encode(s, m.encoder.hasJob(s.job) ? s.job : null))
  return { p50: Math.exp(v), p90: Math.exp(v + m.q90) }
}

interface Neighbour {
  readonly job: string
  readonly offset: number
  readonly weight: number
  readonly misfit: number
}

export class WorkloadModels {
  readonly runtime: RuntimeEnsemble
  readonly failure: GbtModel | null
  readonly failureEncoder: FeatureEncoder
  readonly memory: ResourceModel | null
  readonly cpu: ResourceModel | null
  readonly table: RunsTable
  /** Distinct completed configurations per job. */
  readonly #ownConfigs: ReadonlyMap<string, number>
  /** Observed mean log runtime and failure rate per job and configuration. */
  readonly #observed: ReadonlyMap<string, ReadonlyMap<string, { logRuntime: number | null; failureRate: number }>>
  /** A typical scenario per job (its median input, its usual further columns), to predict it on other configurations. */
  readonly #typical: ReadonlyMap<string, Scenario>

  private constructor(table: RunsTable, runtime: RuntimeEnsemble, failure: GbtModel | null, failureEncoder: FeatureEncoder,
    memory: ResourceModel | null, cpu: ResourceModel | null) {
    this.table = table
    this.runtime = runtime
    this.failure = failure
    this.failureEncoder = failureEncoder
    this.memory = memory
    this.cpu = cpu
    const own = new Map<string, Set<string>>()
    const obs = new Map<string, Map<string, { logs: number[]; runs: number; failed: number }>>()
    const typical = new Map<string, RunRow[]>()
    for (const r of table.rows) {
      const key = configKey(r)
      if (r.completed) own.set(r.job, (own.get(r.job) ?? new Set()).add(key))
      const byConfig = obs.get(r.job) ?? new Map()
      const o = byConfig.get(key) ?? { logs: [], runs: 0, failed: 0 }
      o.runs++
      if (r.completed) o.logs.push(Math.log(Math.max(1e-3, r.runtimeS)))
      else o.failed++
      byConfig.set(key, o)
      obs.set(r.job, byConfig)
      typical.set(r.job, [...(typical.get(r.job) ?? []), r])
    }
    this.#ownConfigs = new Map([...own].map(([j, s]) => [j, s.size]))
    this.#observed = new Map([...obs].map(([j, m]) => [j, new Map([...m].map(([k, o]) => [k, {
      logRuntime: o.logs.length > 0 ? o.logs.reduce((a, b) => a + b, 0) / o.logs.length : null, failureRate: o.failed / o.runs,
    }]))]))
    this.#typical = new Map([...typical].map(([j, rs]) => {
      const sorted = [...rs].sort((a, b) => (a.inputBytes ?? 0) - (b.inputBytes ?? 0))
      return [j, scenarioOf(sorted[Math.floor(sorted.length / 2)]!)]
    }))
  }

  static fit(table: RunsTable, options: { seed?: number } = {}): WorkloadModels {
    const seed = options.seed ?? 1
    const runtime = RuntimeEnsemble.fit(table.rows, table.extraColumns, { seed })
    const failureEncoder = FeatureEncoder.fit(table.rows, table.extraColumns)
    const failures = table.rows.filter((r) => !r.completed).length
    const failure = failures > 0 && failures < table.rows.length
      ? fitGbt(table.rows.map((r) => failureEncoder.encode(scenarioOf(r))), table.rows.map((r) => (r.completed ? 0 : 1)),
        { loss: 'logistic', rounds: 150, maxDepth: 4, minLeaf: 3, seed })
      : null
    return new WorkloadModels(table, runtime, failure, failureEncoder,
      fitResource(table.rows, table, 'peak_memory_gb_per_executor', seed), fitResource(table.rows, table, 'cpu_seconds', seed))
  }

  /** Jobs in the history, with their number of distinct completed configurations. */
  jobs(): { job: string; configs: number }[] {
    return [...this.#typical.keys()].sort().map((job) => ({ job, configs: this.#ownConfigs.get(job) ?? 0 }))
  }

  hasOwnHistory(job: string): boolean {
    return (this.#ownConfigs.get(job) ?? 0) >= MIN_OWN_CONFIGS || (this.#ownConfigs.size <= 1 && this.#ownConfigs.has(job))
  }

  /** log runtime of known job `j` on the configuration of `s`: observed when it ran there, else predicted. */
  #jobLog(j: string, s: Scenario): number {
    const o = this.#observed.get(j)?.get(configKey(s))
    if (o?.logRuntime !== null && o?.logRuntime !== undefined) return o.logRuntime
    const t = this.#typical.get(j)!
    return this.runtime.predictLog({ ...s, job: j, inputBytes: t.inputBytes, extra: t.extra }, j).stacked
  }

  #jobRisk(j: string, s: Scenario): number {
    const o = this.#observed.get(j)?.get(configKey(s))
    if (o) return o.failureRate
    return this.#risk({ ...s, job: j, inputBytes: this.#typical.get(j)!.inputBytes, extra: this.#typical.get(j)!.extra }, j)
  }

  #risk(s: Scenario, asJob: string | null): number {
    if (!this.failure) return this.table.rows.every((r) => r.completed) ? 0 : 1
    return predictGbt(this.failure, this.failureEncoder.encode(s, asJob))
  }

  /** The known jobs most like the one whose runs are `own` (never the job itself), with their offsets. */
  neighbours(job: string, own: readonly OwnRun[]): Neighbour[] {
    const done = own.filter((r) => r.completed)
    const candidates = [...this.#typical.keys()].filter((j) => j !== job && this.hasOwnHistory(j))
    if (candidates.length === 0 || done.length === 0) return []
    const scored = candidates.map((j) => {
      const residuals = done.map((r) => Math.log(r.runtimeS) - this.#jobLog(j, r.scenario))
      const offset = residuals.reduce((a, b) => a + b, 0) / residuals.length
      const rms = Math.sqrt(residuals.reduce((a, r) => a + (r - offset) ** 2, 0) / residuals.length)
      // A trial that failed where job j does not (or the reverse) counts as a mismatch.
      const failMismatch = own.reduce((a, r) => a + Math.abs((r.completed ? 0 : 1) - this.#jobRisk(j, r.scenario)), 0) / own.length
      return { job: j, offset, misfit: rms + 0.5 * failMismatch }
    }).sort((a, b) => a.misfit - b.misfit)
    // With one trial every offset fits exactly: nothing tells the jobs apart, so all of them count equally.
    const chosen = done.length === 1 && own.length === 1 ? scored : scored.slice(0, NEIGHBOURS)
    return chosen.map((n) => ({ ...n, weight: 1 / (n.misfit + 0.05) }))
  }

  /**
   * Predicts `s` for its job. `own` are the job's runs known to the caller (trial runs in an evaluation); by
   * default the job's runs in the table.
   */
  predict(s: Scenario, own?: readonly OwnRun[]): Prediction {
    const memory = predictResource(this.memory, s)
    const cpu = predictResource(this.cpu, s)
    if (this.hasOwnHistory(s.job) && own === undefined) {
      const r = this.runtime.predict(s)
      return { ...r, failureRisk: this.#risk(s, s.job), method: 'ensemble', peakMemoryGbPerExecutor: memory, cpuSeconds: cpu }
    }
    const runs = own ?? this.table.rows.filter((r) => r.job === s.job).map((r) => ({ scenario: scenarioOf(r), runtimeS: r.runtimeS, completed: r.completed }))
    const same = runs.filter((r) => configKey(r.scenario) === configKey(s))
    const neighbours = this.neighbours(s.job, runs)
    if (neighbours.length === 0) {
      // Nothing to transfer from: the ensemble as a job it has never seen (an average job), with a wide margin.
      const { stacked } = this.runtime.predictLog(s, this.runtime.encoder.hasJob(s.job) ? s.job : null)
      const margin = Math.max(this.runtime.q90All, Z90 * 0.5)
      return { p50: Math.exp(stacked), p90: Math.exp(stacked + margin), failureRisk: this.#risk(s, null), method: 'prior', peakMemoryGbPerExecutor: memory, cpuSeconds: cpu }
    }
    const total = neighbours.reduce((a, n) => a + n.weight, 0)
    const logs = neighbours.map((n) => this.#jobLog(n.job, s) + n.offset)
    const mean = logs.reduce((a, v, i) => a + v * neighbours[i]!.weight, 0) / total
    const spread = Math.sqrt(logs.reduce((a, v, i) => a + neighbours[i]!.weight * (v - mean) ** 2, 0) / total)
    const misfit = neighbours.reduce((a, n) => a + n.weight * n.misfit, 0) / total
    const risk = neighbours.reduce((a, n) => a + n.weight * this.#jobRisk(n.job, s), 0) / total
    const sameDone = same.filter((r) => r.completed)
    if (sameDone.length > 0) {
      // Measured here: P50 the geometric mean of the runs, P90 the slowest of them.
      const log = sameDone.reduce((a, r) => a + Math.log(r.runtimeS), 0) / sameDone.length
      return { p50: Math.exp(log), p90: Math.max(...sameDone.map((r) => r.runtimeS)), failureRisk: same.length > sameDone.length ? 1 : 0, method: 'observed', peakMemoryGbPerExecutor: memory, cpuSeconds: cpu }
    }
    return {
      p50: Math.exp(mean), p90: Math.exp(mean + Math.max(this.runtime.q90All, Z90 * Math.sqrt(spread ** 2 + misfit ** 2))),
      failureRisk: same.length > 0 ? 1 : risk, method: 'transfer', peakMemoryGbPerExecutor: memory, cpuSeconds: cpu,
    }
  }
}
