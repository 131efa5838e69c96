/** @module Assembles the stage lists and runners from config; used by the worker thread and the in-process mode. */
import { profileUpdatesMode, type TesseraConfig } from '../config/config.js'
import { compileIdentityRules } from '../identity/identity-rules.js'
import { loadModelFile } from '../matching/model-file.js'
import { RealtimeMatching } from '../matching/realtime.js'
import { TOPICS, type EventLog, type TopicPartitionOffset } from '../log/event-log.js'
import type { StateBackend } from '../storage/state-backend.js'
import { PipelineRunner, RAW_INPUT, type PipelineLogger, type PipelineRunnerOptions, type PipelineStats } from './pipeline-runner.js'
import type { Stage } from './stage.js'
import { createApplyProfilesStage, profileMessageCodec } from './stages/apply-profiles.js'
import { createDedupeStage } from './stages/dedupe.js'
import { createEnrichStage } from './stages/enrich.js'
import { sessionKeyFor } from './enrich/sessions.js'
import { createPublishStage } from './stages/publish.js'
import { createResolveIdentityStage } from './stages/resolve-identity.js'
import { createSuppressStage } from './stages/suppress.js'
import { createUpdateProfilesStage } from './stages/update-profiles.js'
import { OutboxPublisher } from './outbox-publisher.js'
import { CLEAR_IDENTIFIERS, type IdentifierCodec } from '../identity/identifier-codec.js'

/** Consumer group of the profile owners (partitioned profile updates) on events.resolved. */
export const PROFILES_GROUP = 'tessera-profiles'

export interface PipelineParts {
  readonly input: EventLog
  readonly output: EventLog
  readonly state: StateBackend
  /**
   * The profile owners' own backend (a second PostgreSQL pool, so both runners commit concurrently); without it
   * they share `state`, whose transactions then run one after another (SQLite's single connection).
   */
  readonly profileState?: StateBackend
  readonly logger: PipelineLogger
  readonly onBatch?: PipelineRunnerOptions['onBatch']
  /** The state's identifier codec (src/app/identifier-scheme.ts): how extraction keys identifiers. */
  readonly identifiers: IdentifierCodec
}

/** The real-time matcher of identity.matching (its model file read and checked once), or null when it is off. */
export function realtimeMatching(config: TesseraConfig): RealtimeMatching | null {
  const m = config.identity.matching
  if (!m.enabled) return null
  return new RealtimeMatching(loadModelFile(m.model), {
    autoMerge: m.autoMerge, review: m.review, maxBlockSize: m.maxBlockSize, ...(m.preferBlockSize === null ? {} : { preferBlockSize: m.preferBlockSize }),
  })
}

/** The identity runner's stages: with inline profile updates they also update profiles. */
export function buildStages(config: TesseraConfig, output: EventLog, identifiers: IdentifierCodec = CLEAR_IDENTIFIERS): Stage[] {
  const partitioned = profileUpdatesMode(config) === 'partitioned'
  const rules = compileIdentityRules(config.identity.types, config.identity.defaultPhoneRegion, config.identity.maxProfileSize, identifiers)
  const stages: Stage[] = [
    createDedupeStage(),
    createSuppressStage(config, rules),
    createEnrichStage({ sessionTimeoutMs: config.pipeline.sessionTimeoutMinutes * 60_000, sessionKey: sessionKeyFor(rules) }),
    createResolveIdentityStage(rules, { profileAges: partitioned ? 'identifiers' : 'profiles', matching: realtimeMatching(config) }),
  ]
  if (!partitioned) stages.push(createUpdateProfilesStage({ timelineLimit: config.pipeline.timelineLimit }))
  if (config.pipeline.publishResolved) stages.push(createPublishStage(output, { notifyMerges: partitioned }))
  return stages
}

/** What the hosts need of a runner (or another long-running part of the pipeline, such as the outbox publisher). */
export interface RunnerHandle {
  readonly topic: string
  readonly stats: PipelineStats
  start(): void
  stop(): Promise<void>
  committedOffsets(): TopicPartitionOffset[]
}

/**
 * The runners of this process: identity resolution on events.raw, and with partitioned profile updates the profile
 * owners on events.resolved (their own consumer group, so Kafka spreads both over the pipeline processes) and the
 * publisher of control records queued by admin actions (unmerge, review accept) when no batch comes to take them.
 */
export function buildPipeline(config: TesseraConfig, parts: PipelineParts): RunnerHandle[] {
  const common = {
    input: parts.input,
    state: parts.state,
    deadLetter: parts.output,
    batchSize: config.pipeline.batchSize,
    maxWaitMs: config.pipeline.maxWaitMs,
    dedupeWindowMs: config.pipeline.dedupeWindowHours * 3_600_000,
    logger: parts.logger,
    ...(parts.onBatch ? { onBatch: parts.onBatch } : {}),
  }
  const runners: RunnerHandle[] = [new PipelineRunner({ ...RAW_INPUT, ...common, stages: buildStages(config, parts.output, parts.identifiers) })]
  if (profileUpdatesMode(config) === 'partitioned') {
    runners.push(new PipelineRunner({
      ...common,
      group: PROFILES_GROUP,
      topic: TOPICS.resolved,
      codec: profileMessageCodec,
      // The profile owners read what the identity runner wrote: events.resolved lives in the output log.
      input: parts.output,
      state: parts.profileState ?? parts.state,
      stages: [createApplyProfilesStage({
        output: parts.output, timelineLimit: config.pipeline.timelineLimit,
        rules: compileIdentityRules(config.identity.types, config.identity.defaultPhoneRegion, config.identity.maxProfileSize, parts.identifiers),
      })],
    }))
    runners.push(new OutboxPublisher({ state: parts.state, output: parts.output, logger: parts.logger }))
  }
  return runners
}
