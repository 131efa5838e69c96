/** @module Pure profile arithmetic: a new profile, applying an event, merging two profiles. */
import type { JsonObject, RawEvent } from '../core/event.js'
import type { ProfileRecord } from './profile-store.js'

export function newProfile(id: string, createdAt: number, now: number): ProfileRecord {
  return {
    id, createdAt, firstSeen: createdAt, lastSeen: createdAt, traits: {}, traitTimes: {}, eventCount: 0,
    sourceCounts: {}, eventCounts: {}, mergedInto: null, updatedAt: now,
  }
}

/** The name an event is counted under: the track event name, the screen/page name, or the call type. */
export function eventName(event: RawEvent): string {
  if (event.type === 'track' && typeof event.event === 'string') return event.event
  return event.type
}

/** Traits an event sets on the profile: identify traits (Segment: only identify updates user traits). */
function traitsOf(event: RawEvent): JsonObject | undefined {
  return event.type === 'identify' ? event.traits : undefined
}

/** Applies one event. Traits are last-write-wins per trait by event time, so late events do not overwrite. */
export function applyEvent(profile: ProfileRecord, event: RawEvent, time: number, now: number): ProfileRecord {
  const name = eventName(event)
  let traits = profile.traits
  let traitTimes = profile.traitTimes
  const incoming = traitsOf(event)
  if (incoming) {
    for (const [k, v] of Object.entries(incoming)) {
      if (v === undefined) continue
      const held = traitTimes[k]
      if (held !== undefined && held > time) continue
      if (traits === profile.traits) {
        traits = { ...traits }
        traitTimes = { ...traitTimes }
      }
      traits[k] = v
      ;(traitTimes as Record<string, number>)[k] = time
    }
  }
  return {
    ...profile,
    traits,
    traitTimes,
    firstSeen: Math.min(profile.firstSeen, time),
    lastSeen: Math.max(profile.lastSeen, time),
    eventCount: profile.eventCount + 1,
    sourceCounts: increment(profile.sourceCounts, event.sourceId, 1),
    eventCounts: increment(profile.eventCounts, name, 1),
    updatedAt: now,
  }
}

/** Folds `loser` into `winner`: newer trait values win, counters add up, the time span widens. */
export function mergeProfiles(winner: ProfileRecord, loser: ProfileRecord, now: number): ProfileRecord {
  const traits: JsonObject = { ...winner.traits }
  const traitTimes: Record<string, number> = { ...winner.traitTimes }
  for (const [k, v] of Object.entries(loser.traits)) {
    const theirs = loser.traitTimes[k] ?? 0
    const ours = traitTimes[k]
    if (ours === undefined || theirs > ours) {
      traits[k] = v
      traitTimes[k] = theirs
    }
  }
  let sourceCounts = winner.sourceCounts
  for (const [k, n] of Object.entries(loser.sourceCounts)) sourceCounts = increment(sourceCounts, k, n)
  let eventCounts = winner.eventCounts
  for (const [k, n] of Object.entries(loser.eventCounts)) eventCounts = increment(eventCounts, k, n)
  return {
    ...winner,
    createdAt: Math.min(winner.createdAt, loser.createdAt),
    firstSeen: Math.min(winner.firstSeen, loser.firstSeen),
    lastSeen: Math.max(winner.lastSeen, loser.lastSeen),
    traits, traitTimes, sourceCounts, eventCounts,
    eventCount: winner.eventCount + loser.eventCount,
    updatedAt: now,
  }
}

function increment(counts: Readonly<Record<string, number>>, key: string, by: number): Readonly<Record<string, number>> {
  return { ...counts, [key]: (counts[key] ?? 0) + by }
}
