/**
 * @module ProfileControlStore port: the state behind control records of partitioned profile updates
 * (`pipeline.profileUpdates: partitioned`), in the same transaction as everything else:
 *
 * - the **outbox** of notices that an admin action (an unmerge, an accepted review) owes the profile owners. The
 *   admin transaction queues them with its identity changes; the identity runner publishes the queued ones to
 *   events.resolved ahead of its own records in every batch (and a timer publishes them when no batch comes), so
 *   a profile's notice always precedes every record resolved after the action;
 * - each profile's **route**: the last unmerge notice its owner applied, which decides what happens to records of
 *   the old component still in flight;
 * - each profile's **trimmed counts**: what the events removed from its timeline (`pipeline.timelineLimit`) had
 *   added, so an unmerge can leave exactly those on the part that keeps the id.
 *
 * Adapters: src/storage/{sqlite,postgres}/*-profile-control-store.ts.
 */
import type { TrimmedCounts, UnmergeNotice } from './profile-messages.js'
import type { TimelineEvent } from './profile-store.js'

/** A queued record for events.resolved. */
export interface OutboxRecord {
  readonly seq: number
  readonly key: string
  readonly value: string
}

/** A profile's route: the unmerge notice its owner applied last. */
export interface ProfileRoute {
  readonly profileId: string
  readonly notice: UnmergeNotice
}

/** The trimmed counts of one profile. */
export interface TrimmedRecord extends TrimmedCounts {
  readonly profileId: string
}

export interface ProfileControlStore {
  /** Queues records for events.resolved (published in queue order). */
  enqueue(records: readonly { readonly key: string; readonly value: string }[], now: number): Promise<void>
  /** The oldest queued records, at most `limit`. */
  pending(limit: number): Promise<OutboxRecord[]>
  /** Removes records once they are appended to the log (another publisher may have removed them already). */
  published(seqs: readonly number[]): Promise<void>

  routes(profileIds: readonly string[]): Promise<Map<string, ProfileRoute>>
  /** Inserts or replaces routes. */
  putRoutes(routes: readonly ProfileRoute[]): Promise<void>

  trimmed(profileIds: readonly string[]): Promise<Map<string, TrimmedRecord>>
  /** Inserts or replaces trimmed counts. */
  putTrimmed(records: readonly TrimmedRecord[]): Promise<void>
  /**
   * Deletes every timeline event of these profiles but the newest `keep` (as ProfileStore.trimEvents) and returns
   * the deleted ones, so their owner can add them to the trimmed counts.
   */
  takeTrimmed(profileIds: readonly string[], keep: number): Promise<TimelineEvent[]>
  /** Deletes these timeline events (an unmerge re-attributed them to another part). */
  deleteEvents(rows: readonly { readonly profileId: string; readonly messageId: string; readonly sourceId: string }[]): Promise<void>
}

export const EMPTY_TRIMMED: TrimmedCounts = Object.freeze({
  eventCount: 0, eventCounts: {}, sourceCounts: {}, firstSeen: Number.MAX_SAFE_INTEGER, lastSeen: 0, traitTimes: {},
})
