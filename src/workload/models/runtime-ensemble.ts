/**
 * @module The runtime ensemble for jobs with history: gradient-boosted trees (boosted from a per-job log-linear
 * ridge base), k-NN and Ernest, each predicting log(runtime), combined by stacking (non-negative weights fitted by NNLS on out-of-fold predictions, folds
 * cut by configuration group so repetitions never straddle a fold). P50 is the stacked prediction; P90 adds the
 * 90th percentile of the stacked model's out-of-fold log residuals (split-conformal: a distribution-free
 * coverage guarantee under exchangeability, per job when it has 20 residuals, else over all jobs). Quantile
 * trees were the alternative; conformal residuals need no second model and are checked by the eval's coverage.
 * Only completed runs train it: a failed or timed-out run's time is a lower bound, not a runtime.
 */
import { seededRandom } from '../../core/seeded-random.js'
import type { RunRow } from '../runs/runs-table.js'
import { fitErnest, predictErnest, type ErnestModel } from './ernest.js'
import { FeatureEncoder, groupKey, scenarioOf, type Scenario } from './features.js'
import { fitGbt, predictGbt, type GbtModel, type GbtOptions } from './gbt.js'
import { fitKnn, predictKnn, type KnnModel } from './knn.js'
import { nnls } from './nnls.js'
import { fitRidge, predictRidge, type RidgeModel } from './ridge.js'

export interface RuntimeEnsembleOptions {
  readonly seed: number
  readonly folds: number
  readonly gbt?: Partial<GbtOptions>
  readonly k: number
}

// Boosting settings chosen once on a development split of C3O (seed 42, not an evaluation seed): 600 rounds at
// rate 0.05 on the ridge residuals; docs/workload.md states it.
export const DEFAULT_RUNTIME_OPTIONS: RuntimeEnsembleOptions = { seed: 1, folds: 5, k: 5, gbt: { rounds: 600, learningRate: 0.05 } }

interface Members {
  /** The boosted trees' base: one ridge per job with enough runs, and one over all runs (job one-hot included). */
  readonly ridge: ReadonlyMap<string, RidgeModel>
  readonly ridgeAll: RidgeModel
  readonly gbt: GbtModel
  readonly knn: KnnModel
  readonly ernest: ReadonlyMap<string, ErnestModel>
}

export interface MemberPredictions {
  readonly gbt: number
  readonly knn: number
  readonly ernest: number | null
}

/** Ernest fits one model per job, instance type and job parameters; size in GB, machines = nodes. */
function ernestGroup(s: Scenario, asJob: string, paramColumns: readonly string[]): string {
  return JSON.stringify([asJob, s.instanceType, ...paramColumns.map((c) => s.extra[c] ?? '')])
}

function sizeGb(s: Scenario): number {
  return s.inputBytes === null ? 1 : Math.max(1e-6, s.inputBytes / 1e9)
}

function quantile(values: readonly number[], q: number): number {
  if (values.length === 0) return 0
  const s = [...values].sort((a, b) => a - b)
  return s[Math.min(s.length - 1, Math.floor(q * s.length))]!
}

export class RuntimeEnsemble {
  readonly encoder: FeatureEncoder
  /** Stacking weights of gbt, knn, ernest (sum 1). */
  readonly weights: readonly [number, number, number]
  readonly #members: Members
  readonly #paramColumns: readonly string[]
  /** 90th percentile of out-of-fold log residuals, by job and overall. */
  readonly #q90: ReadonlyMap<string, number>
  readonly q90All: number
  /** Out-of-fold log residuals (y − stacked), for diagnostics. */
  readonly oofResiduals: readonly number[]

  private constructor(encoder: FeatureEncoder, members: Members, paramColumns: readonly string[], weights: [number, number, number],
    q90: Map<string, number>, q90All: number, oof: number[]) {
    this.encoder = encoder
    this.#members = members
    this.#paramColumns = paramColumns
    this.weights = weights
    this.#q90 = q90
    this.q90All = q90All
    this.oofResiduals = oof
  }

  static fit(allRows: readonly RunRow[], extraColumns: readonly string[], options: Partial<RuntimeEnsembleOptions> = {}): RuntimeEnsemble {
    const o = { ...DEFAULT_RUNTIME_OPTIONS, ...options }
    const rows = allRows.filter((r) => r.completed && r.runtimeS > 0)
    if (rows.length < 2) throw new RangeError('the runtime model needs at least 2 completed runs')
    const encoder = FeatureEncoder.fit(rows, extraColumns)
    const paramColumns = [...encoder.state.numeric, ...encoder.state.categorical.map((c) => c.column)]
    const x = rows.map((r) => encoder.encode(scenarioOf(r)))
    const y = rows.map((r) => Math.log(r.runtimeS))
    const knnWeights = encoder.names.map((n) => (n.startsWith('job=') ? 10 : 1))
    const fitMembers = (idx: readonly number[]): Members => {
      const ernest = new Map<string, ErnestModel>()
      const groups = new Map<string, { size: number; machines: number; runtimeS: number }[]>()
      for (const i of idx) {
        const s = scenarioOf(rows[i]!)
        const key = ernestGroup(s, s.job, paramColumns)
        const list = groups.get(key) ?? []
        list.push({ size: sizeGb(s), machines: s.nodes, runtimeS: rows[i]!.runtimeS })
        groups.set(key, list)
      }
      for (const [key, points] of groups) {
        const m = fitErnest(points)
        if (m) ernest.set(key, m)
      }
      // The ridge base: per job on the shape and parameter features, when the job has 3 runs per coefficient.
      const shape = encoder.names.map((n, i) => (n.startsWith('job=') ? -1 : i)).filter((i) => i >= 0)
      const all = encoder.names.map((_, i) => i)
      const ridgeAll = fitRidge(idx.map((i) => x[i]!), idx.map((i) => y[i]!), all, 1e-2)
      const ridge = new Map<string, RidgeModel>()
      const byJob = new Map<string, number[]>()
      for (const i of idx) byJob.set(rows[i]!.job, [...(byJob.get(rows[i]!.job) ?? []), i])
      for (const [job, list] of byJob) if (list.length >= 3 * (shape.length + 1)) ridge.set(job, fitRidge(list.map((i) => x[i]!), list.map((i) => y[i]!), shape))
      const base = (i: number): number => predictRidge(ridge.get(rows[i]!.job) ?? ridgeAll, x[i]!)
      const rounds = o.gbt?.rounds ?? 300
      return {
        ridge, ridgeAll,
        gbt: fitGbt(idx.map((i) => x[i]!), idx.map((i) => y[i]! - base(i)), { ...o.gbt, seed: o.seed, rounds: idx.length < 200 ? Math.min(rounds, 150) : rounds }),
        knn: fitKnn(idx.map((i) => x[i]!), idx.map((i) => y[i]!), o.k, knnWeights),
        ernest,
      }
    }
    // Out-of-fold member predictions, folds cut by configuration group.
    const groups = [...new Set(rows.map((r) => groupKey(r, extraColumns)))]
    const random = seededRandom(o.seed * 7919 + 13)
    const foldOf = new Map(groups.map((g) => [g, Math.floor(random() * o.folds)]))
    const oof: (MemberPredictions | null)[] = rows.map(() => null)
    const folds = groups.length >= o.folds * 2 ? o.folds : 0
    for (let f = 0; f < folds; f++) {
      const train: number[] = []
      const test: number[] = []
      rows.forEach((r, i) => (foldOf.get(groupKey(r, extraColumns)) === f ? test : train).push(i))
      if (test.length === 0 || train.length < 2) continue
      const m = fitMembers(train)
      for (const i of test) oof[i] = memberPredict(m, encoder, x[i]!, scenarioOf(rows[i]!), rows[i]!.job, paramColumns)
    }
    const have = oof.map((p, i) => ({ p, i })).filter((e): e is { p: MemberPredictions; i: number } => e.p !== null)
    let weights: [number, number, number] = [1, 0, 0]
    if (have.length >= 10) {
      const w = nnls(have.map(({ p }) => [p.gbt, p.knn, p.ernest ?? p.gbt]), have.map(({ i }) => y[i]!))
      const sum = w[0]! + w[1]! + w[2]!
      if (sum > 0) weights = [w[0]! / sum, w[1]! / sum, w[2]! / sum]
    }
    const residuals = have.map(({ p, i }) => y[i]! - stack(weights, p))
    const byJob = new Map<string, number[]>()
    have.forEach(({ i }, k) => {
      const list = byJob.get(rows[i]!.job) ?? []
      list.push(residuals[k]!)
      byJob.set(rows[i]!.job, list)
    })
    const q90All = residuals.length > 0 ? quantile(residuals, 0.9) : 0.2
    const q90 = new Map<string, number>()
    for (const [job, r] of byJob) if (r.length >= 20) q90.set(job, quantile(r, 0.9))
    return new RuntimeEnsemble(encoder, fitMembers(rows.map((_, i) => i)), paramColumns, weights, q90, q90All, residuals)
  }

  /** log(runtime) by each member and stacked, for a scenario encoded as job `asJob`. */
  predictLog(s: Scenario, asJob: string | null = s.job): { members: MemberPredictions; stacked: number } {
    const members = memberPredict(this.#members, this.encoder, this.encoder.encode(s, asJob), s, asJob, this.#paramColumns)
    return { members, stacked: stack(this.weights, members) }
  }

  /** Conformal margin (log scale) that lifts P50 to P90 for this job. */
  q90(job: string): number {
    return Math.max(0, this.#q90.get(job) ?? this.q90All)
  }

  predict(s: Scenario): { p50: number; p90: number } {
    const { stacked } = this.predictLog(s)
    return { p50: Math.exp(stacked), p90: Math.exp(stacked + this.q90(s.job)) }
  }
}

function stack(w: readonly [number, number, number], p: MemberPredictions): number {
  return w[0] * p.gbt + w[1] * p.knn + w[2] * (p.ernest ?? p.gbt)
}

function memberPredict(m: Members, _encoder: FeatureEncoder, x: readonly number[], s: Scenario, asJob: string | null, paramColumns: readonly string[]): MemberPredictions {
  const e = asJob === null ? undefined : m.ernest.get(ernestGroup(s, asJob, paramColumns))
  const ernest = e ? predictErnest(e, sizeGb(s), s.nodes) : null
  const base = predictRidge((asJob === null ? undefined : m.ridge.get(asJob)) ?? m.ridgeAll, x)
  return { gbt: base + predictGbt(m.gbt, x), knn: predictKnn(m.knn, x), ernest: ernest !== null && ernest > 0 ? Math.log(ernest) : null }
}
