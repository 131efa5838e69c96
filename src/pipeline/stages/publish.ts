/**
 * @module Publish stage: appends resolved, profile-keyed events to `events.resolved` for downstream consumers
 * (destinations, the lake, the profile owners of `pipeline.profileUpdates: partitioned`). With `notifyMerges`, each
 * merge also goes out as a notice keyed by the losing profile, so that profile's owner hands its state to the winner.
 * It runs before the state commits, so a crash in between republishes the batch: delivery downstream is
 * at-least-once, deduplicated by messageId (and by the profile owners' dedupe keys).
 */
import { TOPICS, type AppendRecord, type EventLog } from '../../log/event-log.js'
import type { MergeNotice } from '../../profiles/profile-messages.js'
import { live, type BatchContext, type Stage } from '../stage.js'
import { resolvedEvent } from './update-profiles.js'

export interface PublishOptions {
  /** Send a merge notice per merge (needed by partitioned profile updates). */
  readonly notifyMerges: boolean
}

export function createPublishStage(output: EventLog, options: PublishOptions = { notifyMerges: false }): Stage {
  return {
    name: 'publish',
    policy: 'ensure',
    async run(batch: BatchContext): Promise<void> {
      const records: AppendRecord[] = []
      for (const item of live(batch.items)) {
        records.push({ key: item.profileId!, value: item.resolvedJson ?? JSON.stringify(resolvedEvent(item)), timestamp: item.time })
        if (!options.notifyMerges) continue
        for (const loser of item.merged ?? []) {
          const notice: MergeNotice = { control: 'merge', from: loser, into: item.profileId!, messageId: item.event.messageId, time: item.time }
          records.push({ key: loser, value: JSON.stringify(notice), timestamp: item.time })
        }
      }
      if (records.length > 0) await output.append(TOPICS.resolved, records)
    },
  }
}
