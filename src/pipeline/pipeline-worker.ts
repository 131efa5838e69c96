/**
 * @module Worker-thread entry of the pipeline. Opens its own connections (consumer on events.raw, the state
 * database, the output log), runs the stage runner, and reports stats and batches to the host by message.
 */
import { parentPort, workerData } from 'node:worker_threads'
import { profileUpdatesMode, type TesseraConfig } from '../config/config.js'
import { openLog } from '../app/open-log.js'
import { openState } from '../app/open-state.js'
import { openProfileSealing } from '../app/profile-sealing.js'
import { sealedState } from '../profiles/sealed-profiles.js'
import { dataLayout } from '../app/data-layout.js'
import { openIdentifierCodec } from '../app/identifier-scheme.js'
import { openConfiguredKeyring } from '../governance/crypto/open-keyring.js'
import { TOPICS } from '../log/event-log.js'
import { logTopicSettings } from '../governance/retention/log-retention.js'
import { buildPipeline } from './build-pipeline.js'
import type { WorkerMessage } from './pipeline-host.js'
import type { PipelineLogger } from './pipeline-runner.js'

interface WorkerInput {
  readonly config: TesseraConfig
  readonly paths: { readonly rawLog: string; readonly outputLog: string; readonly state: string }
}

const port = parentPort
if (!port) throw new Error('pipeline-worker.ts must run in a worker thread')
const { config, paths } = workerData as WorkerInput
const post = (m: WorkerMessage): void => port.postMessage(m)
const logger: PipelineLogger = {
  info: (obj, msg) => post({ type: 'log', level: 'info', obj, msg }),
  warn: (obj, msg) => post({ type: 'log', level: 'warn', obj, msg }),
  error: (obj, msg) => post({ type: 'log', level: 'error', obj, msg }),
}

// One keyring for this thread: its logs' sealing and the identifier codec share one cache of data keys.
const keys = await openConfiguredKeyring(config, dataLayout(config.dataDir).dataDir)
const keyring = keys?.keyring ?? null
const input = await openLog(config, { path: paths.rawLog, readOnly: true, role: 'pipeline', logger, keyring })
const output = await openLog(config, { path: paths.outputLog, role: 'pipeline-out', logger, keyring })
await output.ensureTopic(TOPICS.resolved, config.log.partitions, logTopicSettings(config))
await output.ensureTopic(TOPICS.deadLetter, 1, logTopicSettings(config))
const sealing = openProfileSealing(config, keyring)
const state = sealedState(await openState(config, paths.state), sealing)
await state.migrate()
const { codec: identifiers } = await openIdentifierCodec(config, state, keyring)
// On PostgreSQL the profile owners get their own pool so both runners' transactions run at once.
const profileState = profileUpdatesMode(config) === 'partitioned' && config.store.kind === 'postgres'
  ? sealedState(await openState(config, paths.state), sealing) : undefined
const runners = buildPipeline(config, {
  input, output, state, ...(profileState ? { profileState } : {}), logger, identifiers,
  onBatch: (report) => post({ type: 'batch', report }),
})
const report = (): void => post({ type: 'stats', stats: runners[0]!.stats, committed: runners.flatMap((r) => r.committedOffsets()) })
const timer = setInterval(report, 100)
for (const runner of runners) runner.start()
post({ type: 'ready' })

port.on('message', (msg: { type: string }) => {
  if (msg.type !== 'stop') return
  void (async () => {
    for (const runner of runners) await runner.stop()
    clearInterval(timer)
    report()
    await output.close()
    await input.close()
    await state.close()
    await profileState?.close()
    await keys?.close()
    port.close()
  })()
})
