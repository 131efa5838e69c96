/**
 * @module How a profile owner (partitioned profile updates) handles an unmerge of a component it holds profiles of.
 *
 * The admin API recomputes the identity graph and queues an unmerge notice for every profile of the old component
 * (the kept profile and each profile merged into it, transitively). The identity runner publishes queued notices
 * ahead of its own records, so on every such profile's partition the notice follows all records resolved before the
 * unmerge and precedes all records resolved after it. The owner, on the notice:
 *
 * - re-attributes every event in the profile's timeline to the part owning the event's highest-priority identifier
 *   (as the inline unmerge does): events of another part go there as replays and leave this timeline;
 * - the kept profile restarts from its trimmed counts (events no timeline holds any more stay with the id, as in
 *   the inline mode) and re-applies the events that stay; a merged-away member sends its trimmed counts to the kept
 *   part as a carry and stays a pointer;
 * - keeps the notice as the profile's route. Records of the old component still in flight arrive later: an event
 *   at a merged-away member, an event forwarded by a member to the kept profile, or a replay of an older unmerge,
 *   is re-attributed the same way; a fold from a member is dropped (the member re-attributes its own events).
 *   Records resolved after the unmerge (events keyed by a part, folds from profiles merged in since) apply as usual.
 *
 * Every replay and carry has a dedupe key scoped to the unmerge and its target, so each event counts once in its
 * part whatever the path and however often a batch is redone.
 */
import type { RawEvent } from '../../core/event.js'
import { attributeEvent } from '../../identity/attribute-event.js'
import type { IdentityRules } from '../../identity/identity-rules.js'
import { routeKey, type CarryNotice, type ReplayNotice, type TrimmedCounts, type UnmergeNotice } from '../../profiles/profile-messages.js'
import type { ProfileRecord, TimelineEvent } from '../../profiles/profile-store.js'
import type { AppendRecord } from '../../log/event-log.js'

/** A notice's identifier digests by part, built once per notice. */
const partMaps = new WeakMap<UnmergeNotice, Map<string, string>>()

function partMap(notice: UnmergeNotice): Map<string, string> {
  let map = partMaps.get(notice)
  if (!map) {
    map = new Map()
    for (const part of notice.parts) for (const k of part.keys) map.set(k, part.profileId)
    partMaps.set(notice, map)
  }
  return map
}

/** The part of an unmerged component an event belongs to. */
export function partOfEvent(notice: UnmergeNotice, event: RawEvent, rules: IdentityRules): string {
  const map = partMap(notice)
  return attributeEvent(event, rules, (key) => map.get(routeKey(key)), (key) => notice.detached !== null && routeKey(key) === notice.detached, notice.kept)
}

/** True when a record arriving at `profileId` under this route belongs to the old component (it is re-attributed). */
export function isLateRecord(notice: UnmergeNotice, profileId: string, forwardedFrom: string | undefined): boolean {
  return profileId !== notice.kept || (forwardedFrom !== undefined && notice.members.includes(forwardedFrom))
}

export function replayKey(notice: { readonly unmerge: number; readonly into: string }, sourceId: string, messageId: string): string {
  return `#replay:${notice.unmerge}:${notice.into}:${sourceId}:${messageId}`
}

export function replayRecord(unmerge: number, into: string, event: RawEvent, timestamp?: number): AppendRecord {
  const notice: ReplayNotice = { control: 'replay', into, unmerge, event: { ...(event as ReplayNotice['event']), profileId: into } }
  return { key: into, value: JSON.stringify(notice), ...(timestamp === undefined ? {} : { timestamp }) }
}

export function carryRecord(notice: CarryNotice): AppendRecord {
  return { key: notice.into, value: JSON.stringify(notice) }
}

/** The trimmed counts plus these timeline events (removed from the timeline by pipeline.timelineLimit). */
export function addTrimmedEvents(counts: TrimmedCounts, rows: readonly TimelineEvent[]): TrimmedCounts {
  if (rows.length === 0) return counts
  const eventCounts: Record<string, number> = { ...counts.eventCounts }
  const sourceCounts: Record<string, number> = { ...counts.sourceCounts }
  const traitTimes: Record<string, number> = { ...counts.traitTimes }
  let { firstSeen, lastSeen } = counts
  for (const row of rows) {
    const name = row.name ?? row.type
    eventCounts[name] = (eventCounts[name] ?? 0) + 1
    sourceCounts[row.sourceId] = (sourceCounts[row.sourceId] ?? 0) + 1
    firstSeen = Math.min(firstSeen, row.timestamp)
    lastSeen = Math.max(lastSeen, row.timestamp)
    if (row.type === 'identify') {
      const traits = (JSON.parse(row.payload) as RawEvent).traits ?? {}
      for (const k of Object.keys(traits)) traitTimes[k] = Math.max(traitTimes[k] ?? -Infinity, row.timestamp)
    }
  }
  return { eventCount: counts.eventCount + rows.length, eventCounts, sourceCounts, firstSeen, lastSeen, traitTimes }
}

/** Two trimmed counts together. */
export function sumTrimmed(a: TrimmedCounts, b: TrimmedCounts): TrimmedCounts {
  const add = (x: Readonly<Record<string, number>>, y: Readonly<Record<string, number>>): Record<string, number> => {
    const out: Record<string, number> = { ...x }
    for (const [k, n] of Object.entries(y)) out[k] = (out[k] ?? 0) + n
    return out
  }
  const traitTimes: Record<string, number> = { ...a.traitTimes }
  for (const [k, t] of Object.entries(b.traitTimes)) traitTimes[k] = Math.max(traitTimes[k] ?? -Infinity, t)
  return {
    eventCount: a.eventCount + b.eventCount, eventCounts: add(a.eventCounts, b.eventCounts), sourceCounts: add(a.sourceCounts, b.sourceCounts),
    firstSeen: Math.min(a.firstSeen, b.firstSeen), lastSeen: Math.max(a.lastSeen, b.lastSeen), traitTimes,
  }
}

/**
 * The trait values a profile holds that its trimmed events set (the value's time is a trimmed event's time): what
 * no timeline event will set again.
 */
export function trimmedTraits(profile: ProfileRecord, counts: TrimmedCounts): { traits: Record<string, ProfileRecord['traits'][string]>; traitTimes: Record<string, number> } {
  const traits: Record<string, ProfileRecord['traits'][string]> = {}
  const traitTimes: Record<string, number> = {}
  for (const [k, t] of Object.entries(counts.traitTimes)) {
    if (profile.traitTimes[k] !== t || !Object.hasOwn(profile.traits, k)) continue
    traits[k] = profile.traits[k]!
    traitTimes[k] = t
  }
  return { traits, traitTimes }
}

/** Adds trimmed counts (and the trait values they set) to a profile, as a fold does. */
export function withTrimmed(profile: ProfileRecord, counts: TrimmedCounts, values: { traits: ProfileRecord['traits']; traitTimes: Readonly<Record<string, number>> }, now: number): ProfileRecord {
  if (counts.eventCount === 0 && Object.keys(values.traits).length === 0) return profile
  const traits = { ...profile.traits }
  const traitTimes: Record<string, number> = { ...profile.traitTimes }
  for (const [k, v] of Object.entries(values.traits)) {
    const t = values.traitTimes[k] ?? 0
    if (traitTimes[k] === undefined || t > traitTimes[k]!) {
      traits[k] = v
      traitTimes[k] = t
    }
  }
  const add = (x: Readonly<Record<string, number>>, y: Readonly<Record<string, number>>): Record<string, number> => {
    const out: Record<string, number> = { ...x }
    for (const [k, n] of Object.entries(y)) out[k] = (out[k] ?? 0) + n
    return out
  }
  const has = counts.eventCount > 0
  return {
    ...profile, traits, traitTimes,
    eventCount: profile.eventCount + counts.eventCount,
    eventCounts: add(profile.eventCounts, counts.eventCounts),
    sourceCounts: add(profile.sourceCounts, counts.sourceCounts),
    firstSeen: has ? Math.min(profile.firstSeen, counts.firstSeen) : profile.firstSeen,
    lastSeen: has ? Math.max(profile.lastSeen, counts.lastSeen) : profile.lastSeen,
    updatedAt: now,
  }
}
