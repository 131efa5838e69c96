/**
 * @module Publish stage: appends resolved, profile-keyed events to `events.resolved` for downstream consumers
 * (destinations, the lake, the scale-out profile workers). It runs before the state commits, so a crash in
 * between republishes the batch: delivery downstream is at-least-once, deduplicated by messageId.
 */
import { TOPICS, type EventLog } from '../../log/event-log.js'
import { live, type BatchContext, type Stage } from '../stage.js'
import { resolvedEvent } from './update-profiles.js'

export function createPublishStage(output: EventLog): Stage {
  return {
    name: 'publish',
    policy: 'ensure',
    async run(batch: BatchContext): Promise<void> {
      const records = live(batch.items).map((item) => ({
        key: item.profileId!, value: item.resolvedJson ?? JSON.stringify(resolvedEvent(item)), timestamp: item.time,
      }))
      if (records.length > 0) await output.append(TOPICS.resolved, records)
    },
  }
}
