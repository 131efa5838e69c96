/**
 * @module Publish stage: appends resolved, profile-keyed events to `events.resolved` for downstream consumers
 * (destinations, the lake, the profile owners of `pipeline.profileUpdates: partitioned`). With `notifyMerges`, each
 * merge also goes out as a notice keyed by the losing profile, so that profile's owner hands its state to the winner.
 * It runs before the state commits, so a crash in between republishes the batch: delivery downstream is
 * at-least-once, deduplicated by messageId (and by the profile owners' dedupe keys).
 *
 * With `notifyMerges` it also publishes the control records admin actions queued (src/profiles/profile-control-store.ts)
 * ahead of the batch's own records. It reads the queue after the identity stage has locked the batch's identifiers,
 * so an unmerge that committed before this batch saw its component is always published before any record resolved
 * with its result.
 */
import { TOPICS, type AppendRecord, type EventLog } from '../../log/event-log.js'
import type { MergeNotice } from '../../profiles/profile-messages.js'
import { live, type BatchContext, type Stage } from '../stage.js'
import { resolvedEvent } from './update-profiles.js'

/**
 * Queued control records published with one batch. All of them go out ahead of the batch's records (their order
 * matters); the queue only holds what admin actions queued since the last batch, so this bound is never reached in
 * practice and exists to keep one append bounded.
 */
export const OUTBOX_LIMIT = 100_000

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
      const queued = options.notifyMerges ? await batch.tx.control.pending(OUTBOX_LIMIT) : []
      for (const q of queued) records.push({ key: q.key, value: q.value })
      for (const item of live(batch.items)) {
        records.push({ key: item.profileId!, value: item.resolvedJson ?? JSON.stringify(resolvedEvent(item)), timestamp: item.time })
        if (!options.notifyMerges) continue
        for (const loser of item.merged ?? []) {
          const notice: MergeNotice = { control: 'merge', from: loser, into: item.profileId!, messageId: item.event.messageId, time: item.time }
          records.push({ key: loser, value: JSON.stringify(notice), timestamp: item.time })
        }
      }
      if (records.length > 0) await output.append(TOPICS.resolved, records)
      if (queued.length > 0) await batch.tx.control.published(queued.map((q) => q.seq))
    },
  }
}
