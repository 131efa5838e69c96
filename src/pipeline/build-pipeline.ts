/** @module Assembles the stage list and the runner from config; used by the worker thread and the in-process mode. */
import type { TesseraConfig } from '../config/config.js'
import { compileIdentityRules } from '../identity/identity-rules.js'
import type { EventLog } from '../log/event-log.js'
import type { StateBackend } from '../storage/state-backend.js'
import { PipelineRunner, type PipelineLogger, type PipelineRunnerOptions } from './pipeline-runner.js'
import type { Stage } from './stage.js'
import { createDedupeStage } from './stages/dedupe.js'
import { createEnrichStage } from './stages/enrich.js'
import { createPublishStage } from './stages/publish.js'
import { createResolveIdentityStage } from './stages/resolve-identity.js'
import { createUpdateProfilesStage } from './stages/update-profiles.js'

export interface PipelineParts {
  readonly input: EventLog
  readonly output: EventLog
  readonly state: StateBackend
  readonly logger: PipelineLogger
  readonly onBatch?: PipelineRunnerOptions['onBatch']
}

export function buildStages(config: TesseraConfig, output: EventLog): Stage[] {
  const rules = compileIdentityRules(config.identity.types, config.identity.defaultPhoneRegion)
  const stages: Stage[] = [
    createDedupeStage(),
    createEnrichStage({ sessionTimeoutMs: config.pipeline.sessionTimeoutMinutes * 60_000 }),
    createResolveIdentityStage(rules),
    createUpdateProfilesStage({ timelineLimit: config.pipeline.timelineLimit }),
  ]
  if (config.pipeline.publishResolved) stages.push(createPublishStage(output))
  return stages
}

export function buildPipeline(config: TesseraConfig, parts: PipelineParts): PipelineRunner {
  return new PipelineRunner({
    input: parts.input,
    state: parts.state,
    deadLetter: parts.output,
    stages: buildStages(config, parts.output),
    batchSize: config.pipeline.batchSize,
    maxWaitMs: config.pipeline.maxWaitMs,
    dedupeWindowMs: config.pipeline.dedupeWindowHours * 3_600_000,
    logger: parts.logger,
    ...(parts.onBatch ? { onBatch: parts.onBatch } : {}),
  })
}
