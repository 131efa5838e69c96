/**
 * @module Apply-profiles stage: the profile owner's side of `pipeline.profileUpdates: partitioned`. It consumes its
 * partitions of `events.resolved` (see profiles/profile-messages.ts) and is the only writer of those profiles:
 * events update counters, traits and the timeline; a merge notice turns the loser into a pointer and sends its state
 * to the winner as a fold; a fold adds the loser's state to the winner. Records for a profile that has been merged
 * are forwarded to the profile it was merged into, so late events still count, once.
 *
 * Exactly once: records can arrive twice (a producer retried, or a batch was redone after a crash before its commit
 * had stored the offsets), so every record has a dedupe key scoped to its target profile, remembered in the same
 * transaction as the profile changes and the offsets. Forwards and folds are appended before the commit: a crash
 * in between sends them again, and the receiver's dedupe key drops the copy.
 *
 * Timeline rows stay under the profile that applied them (no cross-owner row moves); readers gather a profile's
 * timeline over the profiles merged into it.
 */
import { TOPICS, type AppendRecord, type EventLog, type LogRecord } from '../../log/event-log.js'
import { eventTime } from '../../identity/resolve-batch.js'
import { type FoldNotice, type ProfileMessage, parseProfileMessage } from '../../profiles/profile-messages.js'
import type { ProfileRecord, TimelineEvent } from '../../profiles/profile-store.js'
import { applyEvent, eventName, mergeProfiles, newProfile } from '../../profiles/profile-updates.js'
import type { ItemCodec } from '../pipeline-runner.js'
import type { BatchContext, Stage } from '../stage.js'
import { trimTimelines } from './update-profiles.js'

/** One record of events.resolved on its way through the profile owner. */
export interface ProfileItem {
  readonly record: LogRecord
  readonly message: ProfileMessage
  dropped?: 'duplicate'
}

export const profileMessageCodec: ItemCodec<ProfileItem> = {
  parse(record) {
    try {
      return { record, message: parseProfileMessage(record.value) }
    } catch (error) {
      return { poison: `events.resolved record: ${(error as Error).message}` }
    }
  },
  fresh: (item) => ({ record: item.record, message: item.message }),
}

/** The dedupe key of a record, scoped to the profile that applies it (a forwarded copy gets a new key). */
function dedupeKeyOf(message: ProfileMessage): string {
  switch (message.kind) {
    case 'event': return `#profile:${message.event.profileId}:${message.event.sourceId}:${message.event.messageId}`
    case 'merge': return `#merge:${message.notice.from}:${message.notice.into}`
    case 'fold': return `#fold:${message.notice.from}:${message.notice.into}`
  }
}

export interface ApplyProfilesOptions {
  /** Where forwards and folds go (the log holding events.resolved). */
  readonly output: EventLog
  /** Events kept per profile in the timeline; 0 keeps all. */
  readonly timelineLimit: number
}

export function createApplyProfilesStage(options: ApplyProfilesOptions): Stage<ProfileItem> {
  return {
    name: 'apply-profiles',
    policy: 'ensure',
    async run(batch: BatchContext<ProfileItem>): Promise<void> {
      const keys = batch.items.map((i) => dedupeKeyOf(i.message))
      const seen = await batch.tx.dedupe.seen(keys)
      const fresh: string[] = []
      batch.items.forEach((item, n) => {
        if (seen.has(keys[n]!)) {
          item.dropped = 'duplicate'
          batch.counts.duplicates = (batch.counts.duplicates ?? 0) + 1
        } else {
          seen.add(keys[n]!)
          fresh.push(keys[n]!)
        }
      })
      await batch.tx.dedupe.remember(fresh, batch.now)
      const items = batch.items.filter((i) => i.dropped === undefined)

      const ids = new Set<string>()
      for (const { message } of items) ids.add(message.kind === 'merge' ? message.notice.from : message.kind === 'fold' ? message.notice.into : message.event.profileId)
      const working = await batch.tx.profiles.get([...ids])
      const changed = new Set<string>()
      const timeline: TimelineEvent[] = []
      const out: AppendRecord[] = []

      for (const { message, record } of items) {
        if (message.kind === 'event') {
          const { event } = message
          const id = event.profileId
          const current = working.get(id)
          if (current?.mergedInto) {
            out.push({ key: current.mergedInto, value: JSON.stringify({ ...event, profileId: current.mergedInto }), timestamp: record.timestamp })
            batch.counts.forwarded = (batch.counts.forwarded ?? 0) + 1
            continue
          }
          const time = eventTime(event)
          working.set(id, applyEvent(current ?? newProfile(id, time, batch.now), event, time, batch.now))
          changed.add(id)
          timeline.push({
            profileId: id, messageId: event.messageId, sourceId: event.sourceId, type: event.type,
            name: eventName(event), timestamp: time, payload: record.value,
          })
        } else if (message.kind === 'merge') {
          const { from, into, time } = message.notice
          const loser = working.get(from)
          // A profile loses one merge at most (its identifiers all move to the winner); a repeat is ignored.
          if (loser?.mergedInto) continue
          working.set(from, { ...(loser ?? newProfile(from, time, batch.now)), mergedInto: into, updatedAt: batch.now })
          changed.add(from)
          if (loser) out.push(fold(from, into, loser))
        } else {
          const { from, into, profile } = message.notice
          const winner = working.get(into)
          if (winner?.mergedInto) {
            out.push(fold(from, winner.mergedInto, profile))
            continue
          }
          working.set(into, mergeProfiles(winner ?? newProfile(into, profile.createdAt, batch.now), profile, batch.now))
          changed.add(into)
        }
      }
      await batch.tx.profiles.put([...changed].map((id) => working.get(id)!))
      await batch.tx.profiles.appendEvents(timeline)
      await trimTimelines(batch.tx.profiles, [...changed].map((id) => working.get(id)!), options.timelineLimit)
      if (out.length > 0) await options.output.append(TOPICS.resolved, out)
    },
  }
}

function fold(from: string, into: string, profile: ProfileRecord): AppendRecord {
  const notice: FoldNotice = { control: 'fold', from, into, profile }
  return { key: into, value: JSON.stringify(notice) }
}
