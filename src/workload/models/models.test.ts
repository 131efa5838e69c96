import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { seededRandom } from '../../core/seeded-random.js'
import { fromScout } from '../runs/converters.js'
import type { RunRow } from '../runs/runs-table.js'
import { fitErnest, predictErnest } from './ernest.js'
import { scenarioOf } from './features.js'
import { fitGbt, predictGbt } from './gbt.js'
import { fitKnn, predictKnn } from './knn.js'
import { nnls } from './nnls.js'
import { fitRidge, predictRidge } from './ridge.js'
import { RuntimeEnsemble } from './runtime-ensemble.js'
import { WorkloadModels } from './workload-models.js'

const FIXTURES = join(import.meta.dirname, '../../../test/fixtures/workload')
const scout = fromScout(readFileSync(join(FIXTURES, 'scout/scout_multinode_runs.csv'), 'utf8')).table

/** A synthetic job family: runtime = a + b·size/(nodes·vcpus) + noise, two instance types. */
function synthetic(seed: number, jobs = ['etl', 'report'], noise = 0.03): RunRow[] {
  const random = seededRandom(seed)
  const rows: RunRow[] = []
  for (const job of jobs) {
    const work = job === 'etl' ? 4000 : 900
    for (const type of [{ t: 'm5.xlarge', v: 4, m: 16, p: 0.192 }, { t: 'm5.2xlarge', v: 8, m: 32, p: 0.384 }]) {
      for (const nodes of [2, 4, 6, 8, 12, 16]) {
        for (const gb of [10, 20, 40]) {
          const runtime = (30 + (work * gb) / (nodes * type.v)) * (1 + noise * (random() * 2 - 1))
          rows.push({ job, inputBytes: gb * 1e9, instanceType: type.t, nodes, vcpusPerNode: type.v, memoryGbPerNode: type.m, pricePerNodeHour: type.p, runtimeS: runtime, completed: true, extra: {} })
        }
      }
    }
  }
  return rows
}

describe('boosted trees', () => {
  it('fits a non-linear regression far better than the mean', () => {
    const random = seededRandom(3)
    const x = Array.from({ length: 400 }, () => [random(), random(), random()])
    const y = x.map((r) => Math.sin(6 * r[0]!) + 2 * (r[1]! > 0.5 ? 1 : 0))
    const m = fitGbt(x, y, { rounds: 200 })
    const mse = x.reduce((a, r, i) => a + (predictGbt(m, r) - y[i]!) ** 2, 0) / x.length
    const variance = y.reduce((a, v) => a + (v - y.reduce((s, w) => s + w, 0) / y.length) ** 2, 0) / y.length
    expect(mse).toBeLessThan(0.05 * variance)
  })

  it('gives probabilities with logistic loss', () => {
    const x = Array.from({ length: 200 }, (_, i) => [i / 200])
    const y = x.map((r) => (r[0]! > 0.7 ? 1 : 0))
    const m = fitGbt(x, y, { loss: 'logistic', rounds: 100 })
    expect(predictGbt(m, [0.9])).toBeGreaterThan(0.9)
    expect(predictGbt(m, [0.2])).toBeLessThan(0.1)
  })

  it('refuses to fit nothing', () => {
    expect(() => fitGbt([], [])).toThrow(/no rows/)
  })
})

describe('NNLS, ridge, k-NN and Ernest', () => {
  it('NNLS solves a consistent system and clamps what would go negative', () => {
    expect(nnls([[1, 0], [0, 1], [1, 1]], [2, 3, 5]).map((v) => Math.round(v * 1e6) / 1e6)).toEqual([2, 3])
    const x = nnls([[1, 1], [1, 2], [1, 3]], [3, 2, 1])
    expect(x[1]).toBe(0)
    expect(x[0]).toBeCloseTo(2, 6)
  })

  it('ridge recovers a linear function', () => {
    const x = Array.from({ length: 50 }, (_, i) => [i, (i * 7) % 11])
    const m = fitRidge(x, x.map((r) => 1 + 2 * r[0]! - 0.5 * r[1]!), [0, 1], 1e-9)
    expect(predictRidge(m, [10, 3])).toBeCloseTo(19.5, 3)
  })

  it('k-NN averages the nearest rows', () => {
    const m = fitKnn([[0], [1], [10], [11]], [0, 0, 10, 10], 2)
    expect(predictKnn(m, [0.5])).toBeCloseTo(0, 6)
    expect(predictKnn(m, [10.4])).toBeCloseTo(10, 6)
  })

  it('Ernest reproduces the seven rcv1 sample runs of the Ernest repository', () => {
    const rows = readFileSync(join(FIXTURES, 'rcv1-parsed.csv'), 'utf8').trim().split('\n').slice(1).map((l) => l.split(',').map(Number))
    // machines = cores / 4 (r3.xlarge), size = the input fraction.
    const points = rows.map(([cores, fraction, time]) => ({ size: fraction!, machines: cores! / 4, runtimeS: time! }))
    const m = fitErnest(points)!
    expect(m.theta.every((t) => t >= 0)).toBe(true)
    const mape = points.reduce((a, p) => a + Math.abs(predictErnest(m, p.size, p.machines) - p.runtimeS) / p.runtimeS, 0) / points.length
    expect(mape).toBeLessThan(0.05)
    expect(fitErnest(points.slice(0, 2))).toBeNull()
  })
})

describe('runtime ensemble', () => {
  it('predicts unseen configurations of known jobs, and P90 covers about 90 % of them', () => {
    const train = synthetic(1)
    const test = synthetic(2).filter((_, i) => i % 5 === 0)
    const m = RuntimeEnsemble.fit(train, [], { seed: 1 })
    expect(m.weights.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 6)
    const ape = test.map((r) => Math.abs(m.predict(scenarioOf(r)).p50 - r.runtimeS) / r.runtimeS)
    expect(ape.reduce((a, b) => a + b, 0) / ape.length).toBeLessThan(0.06)
    const covered = test.filter((r) => r.runtimeS <= m.predict(scenarioOf(r)).p90).length / test.length
    expect(covered).toBeGreaterThan(0.75)
  })

  it('learns only from completed runs', () => {
    const truth = synthetic(1)
    // Every third run "timed out" at 7,200 s: a lower bound, which must not pull the predictions up.
    const rows = truth.map((r, i) => (i % 3 === 0 ? { ...r, completed: false, runtimeS: 7200 } : r))
    const m = RuntimeEnsemble.fit(rows, [], { seed: 1 })
    const censored = truth.filter((_, i) => i % 3 === 0)
    const ape = censored.map((r) => Math.abs(m.predict(scenarioOf(r)).p50 - r.runtimeS) / r.runtimeS)
    expect(ape.reduce((a, b) => a + b, 0) / ape.length).toBeLessThan(0.15)
    expect(() => RuntimeEnsemble.fit(rows.slice(0, 1), [])).toThrow(/at least 2 completed runs/)
  })
})

describe('workload models on Scout', () => {
  const jobs = ['join_spark_bigdata', 'lr_spark_bigdata', 'pagerank_spark_bigdata', 'regression_spark1.5_bigdata', 'wordcount_hadoop_bigdata']
  const rows = scout.rows.filter((r) => jobs.includes(r.job))
  const models = WorkloadModels.fit({ rows, extraColumns: scout.extraColumns })

  it('rates the configurations a job failed on as risky', () => {
    const failed = rows.filter((r) => !r.completed)
    const ok = rows.filter((r) => r.completed)
    expect(failed.length).toBeGreaterThan(5)
    const risk = (rs: RunRow[]): number => rs.reduce((a, r) => a + models.predict(scenarioOf(r)).failureRisk, 0) / rs.length
    expect(risk(failed)).toBeGreaterThan(0.5)
    expect(risk(ok)).toBeLessThan(0.1)
  })

  it('transfers to a job it has only a few runs of, from the jobs those runs resemble', () => {
    const job = 'pagerank_spark_huge'
    const all = scout.rows.filter((r) => r.job === job && r.completed)
    const trials = all.filter((r) => r.nodes === 10).map((r) => ({ scenario: scenarioOf(r), runtimeS: r.runtimeS, completed: true }))
    const p = all.filter((r) => r.nodes !== 10).map((r) => ({ r, p: models.predict(scenarioOf(r), trials) }))
    expect(p.every((x) => x.p.method === 'transfer')).toBe(true)
    const mape = p.reduce((a, x) => a + Math.abs(x.p.p50 - x.r.runtimeS) / x.r.runtimeS, 0) / p.length
    expect(mape).toBeLessThan(0.35)
    const neighbours = models.neighbours(job, trials)
    expect(neighbours.length).toBeGreaterThan(0)
    expect(neighbours.length).toBeLessThanOrEqual(3)
    expect(neighbours.some((n) => n.job === job)).toBe(false)
    // A configuration it ran: the measurement.
    expect(models.predict(trials[0]!.scenario, trials)).toMatchObject({ method: 'observed', p90: trials[0]!.runtimeS })
  })

  it('has no memory or CPU model without runs that measured them, and one with', () => {
    expect(models.memory).toBeNull()
    const withPeaks = synthetic(4).map((r) => ({ ...r, extra: { peak_memory_gb_per_executor: String(2 + (r.inputBytes! / 1e9) / (r.nodes * 4)), cpu_seconds: String(r.runtimeS * r.nodes * r.vcpusPerNode * 0.7) } }))
    const m = WorkloadModels.fit({ rows: withPeaks, extraColumns: ['peak_memory_gb_per_executor', 'cpu_seconds'] })
    const s = scenarioOf(withPeaks[10]!)
    const p = m.predict(s)
    expect(p.peakMemoryGbPerExecutor!.p50).toBeGreaterThan(1)
    expect(p.peakMemoryGbPerExecutor!.p90).toBeGreaterThanOrEqual(p.peakMemoryGbPerExecutor!.p50)
    expect(Math.abs(p.cpuSeconds!.p50 - Number(withPeaks[10]!.extra.cpu_seconds)) / Number(withPeaks[10]!.extra.cpu_seconds)).toBeLessThan(0.3)
    // Outcome columns are targets, never features.
    expect(m.runtime.encoder.names.some((n) => n.includes('peak_memory') || n.includes('cpu_seconds'))).toBe(false)
  })
})
