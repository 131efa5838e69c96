/**
 * @module The records on `events.resolved` that profile owners consume when profiles are updated by partition
 * (`pipeline.profileUpdates: partitioned`). Every record is keyed by the profile it is for, so one owner (the member
 * holding that partition) applies everything that happens to a profile, in order, without locks:
 *
 * - a resolved event: the event with the `profileId` identity resolution gave it;
 * - a merge notice, keyed by the losing profile: "you were merged into `into`". The loser's owner marks it merged
 *   and sends its accumulated state on as a fold; events for it that arrive later are forwarded to the winner;
 * - a fold, keyed by the winning profile: the loser's counters and traits, which the winner's owner adds to its own
 *   (and forwards again if the winner has itself been merged meanwhile).
 *
 * Merging is commutative (counters add up, traits are last-write-wins by event time, the time span widens), so the
 * owners converge to the state a single-stage pipeline computes, whatever the order in which they get the records.
 * Control records carry `"control"`; downstream consumers of events.resolved skip them.
 */
import type { ResolvedEvent } from '../core/event.js'
import type { ProfileRecord } from './profile-store.js'

export interface MergeNotice {
  readonly control: 'merge'
  /** The losing profile (the record's key). */
  readonly from: string
  readonly into: string
  /** The event that caused the merge. */
  readonly messageId: string
  /** Its event time, ms. */
  readonly time: number
}

export interface FoldNotice {
  readonly control: 'fold'
  /** The profile merged away. */
  readonly from: string
  /** The profile it is folded into (the record's key). */
  readonly into: string
  /** The loser's state when its owner applied the merge. */
  readonly profile: ProfileRecord
}

export type ProfileControl = MergeNotice | FoldNotice

export type ProfileMessage =
  | { readonly kind: 'event'; readonly event: ResolvedEvent }
  | { readonly kind: 'merge'; readonly notice: MergeNotice }
  | { readonly kind: 'fold'; readonly notice: FoldNotice }

/** True for records of events.resolved that are not events (downstream consumers skip them). */
export function isProfileControl(value: unknown): value is ProfileControl {
  const control = (value as { control?: unknown } | null)?.control
  return control === 'merge' || control === 'fold'
}

/** The profile a message is about, which is also its key on events.resolved. */
export function messageProfile(message: ProfileMessage): string {
  switch (message.kind) {
    case 'event': return message.event.profileId
    case 'merge': return message.notice.from
    case 'fold': return message.notice.into
  }
}

/** Reads one record of events.resolved; throws a message that says what is wrong with it. */
export function parseProfileMessage(value: string): ProfileMessage {
  const parsed = JSON.parse(value) as unknown
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new Error('not a JSON object')
  const o = parsed as Record<string, unknown>
  if (isProfileControl(o)) {
    if (typeof o.from !== 'string' || typeof o.into !== 'string') throw new Error(`${o.control} record without from/into`)
    if (o.control === 'merge') {
      if (typeof o.messageId !== 'string' || typeof o.time !== 'number') throw new Error('merge record without messageId/time')
      return { kind: 'merge', notice: o as unknown as MergeNotice }
    }
    const profile = o.profile as Partial<ProfileRecord> | undefined
    if (typeof profile !== 'object' || profile === null || typeof profile.eventCount !== 'number') throw new Error('fold record without a profile')
    return { kind: 'fold', notice: o as unknown as FoldNotice }
  }
  if (typeof o.messageId !== 'string' || typeof o.type !== 'string' || typeof o.profileId !== 'string') {
    throw new Error('not a resolved event (no messageId, type or profileId)')
  }
  return { kind: 'event', event: o as unknown as ResolvedEvent }
}
