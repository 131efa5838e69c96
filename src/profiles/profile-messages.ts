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
 *
 * An unmerge (admin API) sends three more kinds (see src/pipeline/stages/unmerge-routing.ts):
 * - an unmerge notice, keyed by each profile of the old component (the kept profile and every profile merged into
 *   it): the parts and which identifiers each holds. Its owner re-attributes the events it holds to the parts and
 *   keeps the notice as the profile's route for records of the old component still in flight;
 * - a replay, keyed by a part: one event of the old component, re-attributed to that part by an unmerge;
 * - a carry, keyed by the kept part: the counters of events a merged-away member had trimmed from its timeline
 *   (pipeline.timelineLimit), which cannot be attributed and stay with the profile that keeps the id.
 * A forwarded event names the profile that forwarded it (`forwardedFrom`), so a route can tell a late record of
 * the old component from a new one.
 * Control records carry `"control"`; downstream consumers of events.resolved skip them.
 */
import { createHash } from 'node:crypto'
import type { JsonObject, ResolvedEvent } from '../core/event.js'
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

/** One part of an unmerged component: its profile id and the identifiers it holds (as {@link routeKey}s). */
export interface UnmergePart {
  readonly profileId: string
  readonly keys: readonly string[]
  /** Event time (ms) its earliest identifier was first seen: the created-at of a new part. */
  readonly createdAt: number
}

/**
 * "The component you belong to was unmerged": sent to every profile of it (the kept one and each profile merged
 * into it), keyed by that profile, and to each new part (so its profile exists even before any event reaches it). Identifier keys travel as short digests ({@link routeKey}): the owners only
 * need to tell which part an event's identifiers belong to, never their values.
 */
export interface UnmergeNotice {
  readonly control: 'unmerge'
  /** The profile this notice is for (the record's key): a member, or a new part. */
  readonly profile: string
  /** Sequence number of the unmerge (identity_unmerges). */
  readonly unmerge: number
  /** The part that keeps the old profile id. */
  readonly kept: string
  /** Every profile of the old component: the kept one and those merged into it, transitively. */
  readonly members: readonly string[]
  readonly parts: readonly UnmergePart[]
  /** The detached identifier (an identifier unmerge), which takes only the events that carry nothing else. */
  readonly detached: string | null
  /** Wall-clock ms of the unmerge. */
  readonly time: number
}

/** An event of an unmerged component, re-attributed to the part `into` (the record's key). */
export interface ReplayNotice {
  readonly control: 'replay'
  readonly into: string
  readonly unmerge: number
  readonly event: ResolvedEvent
}

/** What a member's trimmed events had added (their counters; traits by the time they were set), for the kept part. */
export interface TrimmedCounts {
  readonly eventCount: number
  readonly eventCounts: Readonly<Record<string, number>>
  readonly sourceCounts: Readonly<Record<string, number>>
  readonly firstSeen: number
  readonly lastSeen: number
  /** Trait -> event time of the newest trimmed event that set it. */
  readonly traitTimes: Readonly<Record<string, number>>
}

/** A merged-away member's trimmed events, carried to the kept part `into` (the record's key) by an unmerge. */
export interface CarryNotice {
  readonly control: 'carry'
  readonly from: string
  readonly into: string
  readonly unmerge: number
  readonly counts: TrimmedCounts
  /** The trait values those events set that the member still held. */
  readonly traits: JsonObject
}

export type ProfileControl = MergeNotice | FoldNotice | UnmergeNotice | ReplayNotice | CarryNotice

export type ProfileMessage =
  | { readonly kind: 'event'; readonly event: ResolvedEvent; readonly forwardedFrom?: string }
  | { readonly kind: 'merge'; readonly notice: MergeNotice }
  | { readonly kind: 'fold'; readonly notice: FoldNotice }
  | { readonly kind: 'unmerge'; readonly notice: UnmergeNotice }
  | { readonly kind: 'replay'; readonly notice: ReplayNotice }
  | { readonly kind: 'carry'; readonly notice: CarryNotice }

const CONTROLS: ReadonlySet<unknown> = new Set(['merge', 'fold', 'unmerge', 'replay', 'carry'])

/** True for records of events.resolved that are not events (downstream consumers skip them). */
export function isProfileControl(value: unknown): value is ProfileControl {
  return CONTROLS.has((value as { control?: unknown } | null)?.control)
}

/** The profile a message is about, which is also its key on events.resolved. */
export function messageProfile(message: ProfileMessage): string {
  switch (message.kind) {
    case 'event': return message.event.profileId
    case 'merge': return message.notice.from
    case 'fold': return message.notice.into
    case 'unmerge': return message.notice.profile
    case 'replay': return message.notice.into
    case 'carry': return message.notice.into
  }
}

/** The digest an unmerge notice names an identifier key by (64 bits of SHA-256: unique within any component). */
export function routeKey(key: string): string {
  return createHash('sha256').update(key).digest('hex').slice(0, 16)
}

/** Reads one record of events.resolved; throws a message that says what is wrong with it. */
export function parseProfileMessage(value: string): ProfileMessage {
  const parsed = JSON.parse(value) as unknown
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new Error('not a JSON object')
  const o = parsed as Record<string, unknown>
  if (isProfileControl(o)) {
    if (o.control === 'unmerge') {
      if (typeof o.profile !== 'string' || typeof o.unmerge !== 'number' || typeof o.kept !== 'string' || !Array.isArray(o.members) || !Array.isArray(o.parts)) {
        throw new Error('unmerge record without profile/unmerge/kept/members/parts')
      }
      return { kind: 'unmerge', notice: o as unknown as UnmergeNotice }
    }
    if (o.control === 'replay') {
      const event = o.event as Partial<ResolvedEvent> | undefined
      if (typeof o.into !== 'string' || typeof o.unmerge !== 'number' || typeof event?.messageId !== 'string') throw new Error('replay record without into/unmerge/event')
      return { kind: 'replay', notice: o as unknown as ReplayNotice }
    }
    if (typeof o.from !== 'string' || typeof o.into !== 'string') throw new Error(`${o.control} record without from/into`)
    if (o.control === 'carry') {
      if (typeof o.unmerge !== 'number' || typeof (o.counts as Partial<TrimmedCounts> | undefined)?.eventCount !== 'number') throw new Error('carry record without unmerge/counts')
      return { kind: 'carry', notice: o as unknown as CarryNotice }
    }
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
  if (typeof o.forwardedFrom === 'string') {
    const { forwardedFrom, ...event } = o
    return { kind: 'event', event: event as unknown as ResolvedEvent, forwardedFrom }
  }
  return { kind: 'event', event: o as unknown as ResolvedEvent }
}
