import { readFileSync } from 'node:fs'
import { fromScout } from '../../src/workload/runs/converters.js'
import { WorkloadModels } from '../../src/workload/models/workload-models.js'
import { choose, planTrials } from '../../src/workload/advisor/advisor.js'
const t = fromScout(readFileSync('test/fixtures/workload/scout/scout_multinode_runs.csv', 'utf8')).table
let t0 = Date.now()
const m = WorkloadModels.fit(t)
console.log('fit', Date.now() - t0); t0 = Date.now()
choose(m, 'lr_spark_bigdata', 48e9, 3000); console.log('choose known', Date.now() - t0); t0 = Date.now()
choose(m, 'newjob', 48e9, 3000); console.log('choose new', Date.now() - t0); t0 = Date.now()
planTrials(m, 'newjob', 48e9, 3, 3000); console.log('plan', Date.now() - t0)
