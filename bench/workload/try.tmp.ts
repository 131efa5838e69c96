import { readFileSync } from 'node:fs'
import { fromScout } from '../../src/workload/runs/converters.js'
import { evaluate } from '../../src/workload/eval/evaluate.js'
const t = fromScout(readFileSync('/work/shared/data/spark/scout_multinode/scout_multinode_runs.csv', 'utf8')).table
const trials = Number(process.argv[2] ?? 0)
const t0 = Date.now()
const r = evaluate(t, { protocol: 'leave-one-job-out', trials, sla: 'median', onFold: (d, n) => process.stderr.write(`${d}/${n} `) })
const { per_scenario, ...rest } = r
console.log('\n', JSON.stringify(rest, null, 1), Date.now() - t0, 'ms')
for (const s of per_scenario) console.log(s.job, s.chosen, s.costRatioVsOracle.toFixed(2), s.slaViolated, 'static', s.bestStatic, s.bestStaticCostRatio.toFixed(2), 'mape', s.runtimeMape?.toFixed(2), 'trial', s.trialCostRuns.toFixed(1))
