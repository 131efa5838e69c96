import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { WorkloadModels } from '../models/workload-models.js'
import { fromScout } from '../runs/converters.js'
import { candidatesOf, choose, costOf, parseDuration, planTrials } from './advisor.js'
import { cloudOf, clusterSpecs, executorLayout, sparkConf, sparkSubmitFlags } from './spark-config.js'

const FIXTURES = join(import.meta.dirname, '../../../test/fixtures/workload')
const scout = fromScout(readFileSync(join(FIXTURES, 'scout/scout_multinode_runs.csv'), 'utf8')).table
const jobs = ['join_spark_bigdata', 'lr_spark_bigdata', 'pagerank_spark_bigdata', 'wordcount_hadoop_bigdata', 'terasort_hadoop_bigdata']
const table = { rows: scout.rows.filter((r) => jobs.includes(r.job)), extraColumns: scout.extraColumns }
const models = WorkloadModels.fit(table)

describe('durations', () => {
  it.each([['900', 900], ['90s', 90], ['45m', 2700], ['2h', 7200], ['1h30m', 5400], ['1.5h', 5400]])('%s is %d s', (text, s) => {
    expect(parseDuration(text)).toBe(s)
  })
  it.each(['', 'soon', '-5', '0', '5 days'])('%j is refused with how to write one', (text) => {
    expect(() => parseDuration(text)).toThrow(/deadline/)
  })
})

describe('choosing a configuration', () => {
  const job = 'lr_spark_bigdata'
  const input = table.rows.find((r) => r.job === job)!.inputBytes

  it('picks the lowest expected cost whose P90 meets the deadline and whose risk is low', () => {
    const runtimes = table.rows.filter((r) => r.job === job && r.completed).map((r) => r.runtimeS).sort((a, b) => a - b)
    const deadline = runtimes[Math.floor(runtimes.length / 2)]!
    const c = choose(models, job, input, deadline)
    expect(c.meetsDeadline).toBe(true)
    expect(c.chosen.prediction.p90).toBeLessThanOrEqual(deadline)
    expect(c.chosen.prediction.failureRisk).toBeLessThanOrEqual(0.1)
    for (const a of c.alternatives) expect(a.expectedCost).toBeGreaterThanOrEqual(c.chosen.expectedCost)
    expect(c.assessed).toBe(candidatesOf(models).length)
    // A tighter deadline never gets a cheaper pick.
    const tight = choose(models, job, input, runtimes[2]!)
    expect(tight.chosen.expectedCost).toBeGreaterThanOrEqual(c.chosen.expectedCost)
  })

  it('says so when nothing meets the deadline, and gives the fastest safe configuration', () => {
    const c = choose(models, job, input, 1)
    expect(c.meetsDeadline).toBe(false)
    for (const a of c.alternatives) expect(a.prediction.p90).toBeGreaterThanOrEqual(c.chosen.prediction.p90)
  })

  it('needs prices', () => {
    const unpriced = WorkloadModels.fit({ rows: table.rows.map((r) => ({ ...r, pricePerNodeHour: null })), extraColumns: table.extraColumns })
    expect(() => choose(unpriced, job, input, 1000)).toThrow(/price_per_node_hour/)
  })

  it('plans trial runs for a job with no history, with their predicted cost', () => {
    const plan = planTrials(models, 'brand_new_job', 50e9, 3, 1800)
    expect(plan.trials).toHaveLength(3)
    expect(new Set(plan.trials.map((t) => `${t.candidate.instanceType}×${t.candidate.nodes}`)).size).toBe(3)
    expect(plan.totalPredictedCost).toBeCloseTo(plan.trials.reduce((a, t) => a + costOf(t.candidate, t.predictedRuntimeS), 0), 9)
  })
})

describe('Spark settings and cluster specs', () => {
  it('lays executors out on the node and emits the flags', () => {
    const l = executorLayout(10, 16, 64)
    expect(l).toMatchObject({ executorCores: 5, executorsPerNode: 3, executors: 30 })
    expect(l.containerGb * l.executorsPerNode).toBeLessThanOrEqual(64 * 0.9)
    const small = executorLayout(4, 2, 3.75)
    expect(small).toMatchObject({ executorCores: 2, executorsPerNode: 1 })
    const conf = sparkConf(l, 'rec-1')
    expect(conf['spark.tessera.recommendationId']).toBe('rec-1')
    expect(sparkSubmitFlags(conf)).toContain('--conf spark.executor.instances=30')
  })

  it('knows the cloud of an instance type and writes the specs that apply', () => {
    expect(cloudOf('m5.2xlarge')).toBe('aws')
    expect(cloudOf('n2-standard-8')).toBe('gcp')
    expect(cloudOf('n2-custom-4-16384')).toBe('gcp')
    expect(cloudOf('Standard_D8s_v3')).toBe('azure')
    expect(cloudOf('unknown')).toBe('unknown')
    const aws = clusterSpecs('m4.xlarge', 8, { a: 'b' }, 'job')
    expect(aws.emr).toMatchObject({ Instances: { InstanceGroups: [{ InstanceRole: 'MASTER' }, { InstanceRole: 'CORE', InstanceCount: 8, InstanceType: 'm4.xlarge' }] } })
    expect(aws.databricks).toMatchObject({ num_workers: 8, node_type_id: 'm4.xlarge' })
    expect(aws.dataproc).toBeUndefined()
    const gcp = clusterSpecs('n2-standard-8', 4, { 'spark.executor.cores': '5' }, 'job')
    expect(gcp.dataproc).toMatchObject({ config: { workerConfig: { numInstances: 4, machineTypeUri: 'n2-standard-8' }, softwareConfig: { properties: { 'spark:spark.executor.cores': '5' } } } })
    expect(gcp.emr).toBeUndefined()
  })
})
