/**
 * @module `tessera replay --from <offset|time|earliest>`: rebuilds the derived state (identity graph,
 * profiles, timeline, dedupe keys, sessions) from events.raw. The state is cleared first, then the pipeline
 * consumes from the given position of every partition until it reaches the end of the log.
 *
 * The audit log: `identity.replay` entries mark the start and the end (with how many identity changes reached the
 * audit log and how many were audited already). Identity changes still queued for the audit log are relayed before
 * the state is cleared; the merges the replay re-makes are relayed with the same keys as before, so one audited
 * already is not recorded again (src/identity/identity-audit-relay.ts).
 */
import { parseArgs } from 'node:util'
import { loadConfig, profileUpdatesMode } from '../config/config.js'
import { TesseraError } from '../core/errors.js'
import { dataLayout } from '../app/data-layout.js'
import { openLog } from '../app/open-log.js'
import { openState } from '../app/open-state.js'
import { openProfileSealing } from '../app/profile-sealing.js'
import { sealedState } from '../profiles/sealed-profiles.js'
import { openIdentifierCodec } from '../app/identifier-scheme.js'
import { openConfiguredKeyring } from '../governance/crypto/open-keyring.js'
import { acquireProcessLock } from '../app/process-lock.js'
import { createLogger } from '../app/logger.js'
import { TOPICS, type TopicPartitionOffset } from '../log/event-log.js'
import { logTopicSettings } from '../governance/retention/log-retention.js'
import { startInProcessPipeline } from '../pipeline/pipeline-host.js'
import { PIPELINE_GROUP } from '../pipeline/pipeline-runner.js'
import { PROFILES_GROUP } from '../pipeline/build-pipeline.js'
import { openIdentityAuditOutbox } from '../app/open-state.js'
import { relayAll } from '../identity/identity-audit-relay.js'
import { openCliAudit } from './cli-audit.js'

const HELP = `Usage: tessera replay --from <offset|time|earliest> [--data-dir DIR] [--config FILE]

Rebuilds profiles and the identity graph from the event log. Stop \`tessera up\` first.
  --from earliest        everything in the log (a full rebuild)
  --from 1200            from offset 1200 of every partition (earlier events are not in the rebuilt state)
  --from 2026-11-01T00:00:00Z
                         from the first event received at or after that time, per partition`

export function parseFrom(text: string): { kind: 'offset'; offset: number } | { kind: 'time'; time: number } {
  if (text === 'earliest' || text === 'beginning') return { kind: 'offset', offset: 0 }
  if (/^\d+$/.test(text)) return { kind: 'offset', offset: Number(text) }
  const time = Date.parse(text)
  if (Number.isNaN(time)) {
    throw new TesseraError('TESSERA_VALIDATION', `--from ${JSON.stringify(text)} is neither an offset, an ISO-8601 time nor "earliest"`, { field: '--from' })
  }
  return { kind: 'time', time }
}

export async function runReplay(argv: readonly string[]): Promise<number> {
  const { values } = parseArgs({
    args: [...argv],
    options: { from: { type: 'string' }, 'data-dir': { type: 'string' }, config: { type: 'string' }, help: { type: 'boolean' } },
  })
  if (values.help) {
    console.log(HELP)
    return 0
  }
  if (!values.from) {
    console.error(`tessera replay: --from is required\n\n${HELP}`)
    return 1
  }
  const from = parseFrom(values.from)
  const config = loadConfig({
    ...(values.config ? { file: values.config } : {}),
    overrides: values['data-dir'] ? { dataDir: values['data-dir'] } : {},
  })
  if (config.log.kind === 'memory') throw new TesseraError('TESSERA_CONFIG', 'replay needs a durable log; log.kind is memory')
  const layout = dataLayout(config.dataDir)
  const lock = acquireProcessLock(layout.lock, 'tessera replay')
  const logger = createLogger(config.logLevel === 'info' ? 'warn' : config.logLevel, process.stderr)
  const keys = await openConfiguredKeyring(config, layout.dataDir)
  const keyring = keys?.keyring ?? null
  const input = await openLog(config, { path: layout.rawLog, readOnly: true, keyring })
  const output = await openLog(config, { path: layout.outputLog, keyring })
  // Profiles are sealed as the replay rewrites them: `--from earliest` seals a state written in clear all at once.
  const state = sealedState(await openState(config, layout.state), openProfileSealing(config, keyring))
  let audited: Awaited<ReturnType<typeof openCliAudit>> | undefined
  let outbox: Awaited<ReturnType<typeof openIdentityAuditOutbox>> | undefined
  try {
    await state.migrate()
    audited = await openCliAudit(config, layout.dataDir)
    const audit = audited.audit
    outbox = await openIdentityAuditOutbox(config, layout.state)
    const box = outbox
    const partitions = await input.partitions(TOPICS.raw)
    let start: readonly TopicPartitionOffset[]
    if (from.kind === 'time') start = await input.offsetsForTime(TOPICS.raw, from.time)
    else {
      const ends = await input.endOffsets(TOPICS.raw)
      // Log retention may have removed the oldest records: start no earlier than what the log still holds, so the
      // pipeline does not report the removed ones as lost.
      const firsts = await input.startOffsets(TOPICS.raw)
      start = Array.from({ length: partitions }, (_, partition) => ({
        topic: TOPICS.raw, partition, offset: Math.min(Math.max(from.offset, firsts[partition]?.offset ?? 0), ends[partition]?.offset ?? 0),
      }))
    }
    const total = (await input.endOffsets(TOPICS.raw)).reduce((n, e) => n + e.offset - (start[e.partition]?.offset ?? 0), 0)
    await output.ensureTopic(TOPICS.resolved, config.log.partitions, logTopicSettings(config))
    await output.ensureTopic(TOPICS.deadLetter, 1, logTopicSettings(config))
    // What the last run left queued reaches the audit log before the state (and its outbox) is cleared.
    const before = await relayAll(box, audit)
    const actor = { type: 'cli' as const, id: 'tessera replay' }
    await audit.record({
      kind: 'identity.replay', actor, action: `tessera replay --from ${values.from}`, decision: 'ok', reason: 'started',
      detail: { phase: 'started', from: values.from, events: total, relayedBefore: before.recorded },
    })
    await state.reset()
    // After the reset: a graph rebuilt from the log may take the configured scheme (a clear state becomes pseudonymous).
    const { codec: identifiers, warning } = await openIdentifierCodec(config, state, keyring)
    if (warning) process.stderr.write(`warning: ${warning}\n`)
    await state.transaction((tx) => tx.offsets.save(PIPELINE_GROUP, start))
    if (profileUpdatesMode(config) === 'partitioned') {
      // The profile owners start after what events.resolved holds now: the replay publishes everything again.
      const resolvedEnds = await output.endOffsets(TOPICS.resolved)
      await state.transaction((tx) => tx.offsets.save(PROFILES_GROUP, resolvedEnds))
    }
    process.stderr.write(`replaying ${total} events from ${values.from} into a cleared state...\n`)
    const started = performance.now()
    let done = 0
    let lastPrint = 0
    const pipeline = startInProcessPipeline({
      config, input, output, state, logger, identifiers,
      onBatch: (r) => {
        done += r.records
        if (performance.now() - lastPrint > 1000) {
          lastPrint = performance.now()
          process.stderr.write(`  ${done}/${total} events\n`)
        }
      },
    })
    // The relay runs beside the replay's pipeline, so the outbox stays small; the last drain follows the pipeline.
    const relayed = { recorded: 0, alreadyAudited: 0 }
    let relaying = true
    const relayLoop = (async () => {
      while (relaying) {
        const r = await relayAll(box, audit)
        relayed.recorded += r.recorded
        relayed.alreadyAudited += r.alreadyAudited
        await new Promise((resolve) => setTimeout(resolve, config.governance.audit.identityRelayIntervalSeconds * 1000))
      }
    })().then(() => undefined, (error: unknown) => error as Error)
    try {
      await pipeline.drain(24 * 3_600_000)
      await pipeline.stop()
    } finally {
      relaying = false
    }
    const relayError = await relayLoop
    if (relayError) throw relayError
    const last = await relayAll(box, audit)
    relayed.recorded += last.recorded
    relayed.alreadyAudited += last.alreadyAudited
    const seconds = (performance.now() - started) / 1000
    const reader = state.reader()
    const stats = await reader.stats()
    await reader.close()
    await audit.record({
      kind: 'identity.replay', actor, action: `tessera replay --from ${values.from}`, decision: 'ok', reason: 'done',
      detail: {
        phase: 'done', from: values.from, events: done, profiles: stats.profiles, merges: stats.merges,
        identityEntriesRecorded: relayed.recorded, identityEntriesAlreadyAudited: relayed.alreadyAudited,
      },
    })
    console.log(`replayed ${done} events in ${seconds.toFixed(1)} s (${Math.round(done / Math.max(seconds, 0.001))} events/s): ` +
      `${stats.profiles} profiles, ${stats.identifiers} identifiers, ${stats.merges} merges; audit log: ` +
      `${relayed.recorded} new identity entries, ${relayed.alreadyAudited} audited already`)
    return 0
  } finally {
    await outbox?.close()
    await audited?.close()
    await state.close()
    await output.close()
    await input.close()
    await keys?.close()
    lock.release()
  }
}
