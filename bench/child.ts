/** @module Entry point of a scenario child process (see lib/child-scenario.ts): runs one job and sends back its result. */
import type { ChildAnswer, ChildJob } from './lib/child-scenario.js'
import type { ScenarioResult } from './lib/result.js'
import { runRawLimit } from './scenarios/baseline-raw-limit.js'
import { runSqlStitching } from './scenarios/baseline-sql-stitching.js'
import { runResolve } from './scenarios/resolve.js'

async function run(job: ChildJob): Promise<ScenarioResult> {
  switch (job.kind) {
    case 'resolve':
      return runResolve(job.options)
    case 'raw-limit':
      return runRawLimit(job.options)
    case 'sql-stitching':
      return runSqlStitching(job.options)
  }
}

process.once('message', (job: ChildJob) => {
  void run(job).then(
    (result): ChildAnswer => ({ ok: true, result }),
    (error: unknown): ChildAnswer => ({ ok: false, error: error instanceof Error ? error.message : String(error) }),
  ).then((answer) => process.send!(answer, () => process.exit(0)))
})
