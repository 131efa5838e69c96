/**
 * @module The event-log topics a retention run covers, for `tessera up` (its own open logs) and `tessera retention
 * run` (reader connections it opens, and closes): events.raw, read by the pipeline group; events.resolved, read by
 * the profile owners' group when profile updates are partitioned (otherwise by no Tessera group); and
 * events.dead-letter, read by none. On the embedded log the output file is opened read-only next to the pipeline
 * that appends to it (a reader may delete: see EmbeddedEventLog.deleteRecordsBefore), and a file that does not exist
 * yet is left alone. On Kafka one client covers every topic.
 */
import { existsSync } from 'node:fs'
import { profileUpdatesMode, type TesseraConfig } from '../config/config.js'
import type { LogTopicTarget } from '../governance/retention/retention-job.js'
import { TOPICS, type EventLog } from '../log/event-log.js'
import { PROFILES_GROUP } from '../pipeline/build-pipeline.js'
import { PIPELINE_GROUP } from '../pipeline/pipeline-runner.js'
import type { DataLayout } from './data-layout.js'
import { openLog } from './open-log.js'

export interface RetentionLogs {
  readonly topics: readonly LogTopicTarget[]
  close(): Promise<void>
}

/** `running`: logs this process already has open (used as they are, never closed here). */
export async function openRetentionLogs(config: TesseraConfig, layout: DataLayout, running: { raw?: EventLog; output?: EventLog } = {}): Promise<RetentionLogs> {
  const opened: EventLog[] = []
  const open = async (path: string): Promise<EventLog | undefined> => {
    if (config.log.kind === 'memory') return undefined
    if (config.log.kind === 'embedded' && !existsSync(path)) return undefined
    const log = await openLog(config, { path, role: 'retention', readOnly: config.log.kind === 'embedded' })
    opened.push(log)
    return log
  }
  const raw = running.raw ?? await open(layout.rawLog)
  const output = config.log.kind === 'kafka' ? raw : running.output ?? await open(layout.outputLog)
  const topics: LogTopicTarget[] = []
  if (raw) topics.push({ topic: TOPICS.raw, log: raw, groups: [PIPELINE_GROUP] })
  if (output) {
    topics.push({ topic: TOPICS.resolved, log: output, groups: profileUpdatesMode(config) === 'partitioned' ? [PROFILES_GROUP] : [] })
    topics.push({ topic: TOPICS.deadLetter, log: output, groups: [] })
  }
  return { topics, close: async () => { await Promise.allSettled(opened.map((l) => l.close())) } }
}
