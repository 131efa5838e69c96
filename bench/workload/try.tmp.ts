import { readFileSync } from 'node:fs'
import { fromScout } from '../../src/workload/runs/converters.js'
import { WorkloadModels } from '../../src/workload/models/workload-models.js'
import { evaluate } from '../../src/workload/eval/evaluate.js'
const t = fromScout(readFileSync('test/fixtures/workload/scout/scout_multinode_runs.csv', 'utf8')).table
let t0 = Date.now()
WorkloadModels.fit(t)
console.log('fit full scout', Date.now() - t0)
const jobs = ['join_spark_bigdata', 'lr_spark_bigdata', 'pagerank_spark_bigdata', 'wordcount_hadoop_bigdata', 'terasort_hadoop_bigdata']
const sub = { rows: t.rows.filter((r) => jobs.includes(r.job) && !r.instanceType.endsWith('.large')), extraColumns: t.extraColumns }
t0 = Date.now()
const r = evaluate(sub, { protocol: 'leave-one-job-out', trials: 3 })
console.log('eval sub', sub.rows.length, Date.now() - t0, r.cost_ratio_vs_oracle, r.best_static_cost_ratio, r.sla_violation_rate, r.runtime_mape)
