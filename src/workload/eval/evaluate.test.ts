import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { fromScout } from '../runs/converters.js'
import { evaluate } from './evaluate.js'

const FIXTURES = join(import.meta.dirname, '../../../test/fixtures/workload')
const scout = fromScout(readFileSync(join(FIXTURES, 'scout/scout_multinode_runs.csv'), 'utf8')).table
const jobs = ['join_spark_bigdata', 'lr_spark_bigdata', 'pagerank_spark_bigdata', 'wordcount_hadoop_bigdata', 'terasort_hadoop_bigdata']
// A small slice (5 jobs, the xlarge and 2xlarge configurations) keeps this test to about a second.
const table = { rows: scout.rows.filter((r) => jobs.includes(r.job) && !r.instanceType.endsWith('.large')), extraColumns: scout.extraColumns }

describe('offline evaluation', () => {
  it('leave-one-job-out with trial runs reports every metric, the baselines and their protocol', () => {
    const r = evaluate(table, { protocol: 'leave-one-job-out', trials: 3, sla: 'median' })
    expect(r).toMatchObject({ protocol: 'leave-one-job-out', trials: 3, sla: 'median', jobs: 5, scenarios: 5 })
    for (const k of ['runtime_mape', 'cost_ratio_vs_oracle', 'sla_violation_rate', 'trial_cost_runs', 'best_static_cost_ratio'] as const) expect(Number.isFinite(r[k])).toBe(true)
    // The oracle is the cheapest configuration meeting the SLA: nothing can be cheaper per run.
    for (const s of r.per_scenario) {
      if (!s.slaViolated) expect(s.costRatioVsOracle).toBeGreaterThanOrEqual(1 - 1e-9)
      expect(s.trialCostRuns).toBeGreaterThan(0)
    }
    expect(r.cost_ratio_vs_oracle).toBeLessThan(r.best_static_cost_ratio)
    expect(r.sla_violation_rate).toBeLessThanOrEqual(0.2)
  })

  it('trials are charged: none means no trial cost', () => {
    const r = evaluate(table, { protocol: 'leave-one-job-out', trials: 0 })
    expect(r.trial_cost_runs).toBe(0)
  })

  it('holdout-configs never scores a configuration the models trained on', () => {
    const r = evaluate(table, { protocol: 'holdout-configs', seeds: 1 })
    expect(r.protocol).toBe('holdout-configs')
    expect(r.trial_cost_runs).toBe(0)
    expect(r.runtime_mape).toBeGreaterThan(0)
    expect(Object.keys(r.runtime_mape_by_job).length).toBeGreaterThan(0)
  })

  it('a fixed SLA in seconds is used as given', () => {
    const r = evaluate(table, { protocol: 'leave-one-job-out', trials: 1, sla: 600 })
    expect(r.per_scenario.every((s) => s.slaS === 600)).toBe(true)
  })
})
